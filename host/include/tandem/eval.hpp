// `tandem eval`: a model's mean cross-entropy and perplexity over a token stream.
//
// The rule: the stream's n tokens are cut into windows of seq + 1 tokens starting every seq tokens
// (window w: tokens [w*seq, w*seq + seq], seq inputs and, shifted by one, seq next-token targets; the
// data loader's rule, tandem/data.hpp), floor((n - 1) / seq) of them, none overlapping in its targets;
// the tokens after the last whole window are not scored. Every window is scored, batch rows at a time
// (the last batch may be smaller). The loss is the mean over every target token of -log softmax, the
// perplexity exp of it. The windows are independent: a window's first target sees only its own input.
#pragma once

#include <cstdint>
#include <span>

#include "tandem/engine.hpp"

namespace tandem {

struct EvalResult {
  double loss = 0;        // mean cross-entropy, nats per token
  double perplexity = 0;  // exp(loss)
  int64_t windows = 0, tokens = 0;  // windows scored and target tokens in them
};

// Throws std::invalid_argument when the stream is shorter than one window (naming both sizes and
// --seq), when seq exceeds the model's max_sequence, or for batch or seq below 1.
EvalResult evaluate_stream(Engine& engine, std::span<const uint16_t> ids, int64_t batch, int64_t seq);

}  // namespace tandem
