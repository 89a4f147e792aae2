// Sampling tokens from a model (`tandem generate`): the sampler, and the loop that feeds a prompt and
// then each chosen token back in, through the model's KV cache where it has one (Engine::forward_cached,
// SDK 1.4) and through forward() over the whole sequence where it has not. Both give the same tokens.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tandem/engine.hpp"

namespace tandem {

// How the next token is chosen from one position's logits, in this order (as Hugging Face's
// generate applies its warpers): logits / temperature; only the top_k most likely (0: all); of those,
// the smallest set, most likely first, whose probabilities add up to at least top_p (1: all); then one
// draw from the renormalised probabilities. temperature 0 is greedy: the most likely token, the
// lowest id among equals. Ties in the ordering go to the lower id.
struct SamplingOptions {
  double temperature = 1.0;  // >= 0
  int64_t top_k = 0;         // >= 0
  double top_p = 1.0;        // in (0, 1]
  uint64_t seed = 1234;      // the same seed, logits and options give the same tokens on every machine
};

// Throws std::invalid_argument naming the option (--temperature, --top-k, --top-p) that is out of range.
void check_sampling_options(const SamplingOptions& options);

// The probabilities the draw uses, over the whole vocabulary (zeros outside the kept set), in double.
std::vector<double> sampling_distribution(std::span<const float> logits, const SamplingOptions& options);

class Sampler {
 public:
  explicit Sampler(const SamplingOptions& options);
  // The next token; draw i (0, 1, ...) uses uniform(seed, i), a counter-based draw (compute/rng.hpp).
  int32_t next(std::span<const float> logits);

 private:
  SamplingOptions options_;
  uint64_t draws_ = 0;
};

struct GenerateOptions {
  int64_t max_new_tokens = 32;
  SamplingOptions sampling;
  bool kv_cache = true;       // false: forward() over the whole sequence at every step
  bool keep_logits = false;   // keep each step's logits (the position that chose the token)
};

struct Generated {
  std::vector<int32_t> tokens;              // the new tokens only
  std::vector<std::vector<float>> logits;   // per new token, with keep_logits
  bool used_kv_cache = false;               // false: the model has none here, or kv_cache was off
};

// Generates after `prompt` on an engine of one local rank. Throws std::invalid_argument for an empty
// prompt, a token outside the vocabulary, or prompt + max_new_tokens beyond the model's max_sequence
// (naming both numbers and the option to lower).
Generated generate(Engine& engine, std::span<const int32_t> prompt, const GenerateOptions& options);

}  // namespace tandem
