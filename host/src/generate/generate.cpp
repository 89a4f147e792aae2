// The generation loop (tandem/generate.hpp). With a KV cache the prompt goes through the model once
// and each new token alone; without one (a model built before SDK 1.4, or one with no cache where it
// runs) the whole sequence goes through forward() at each step. The sampler sees the last position's
// logits either way, so the tokens are the same.
#include <stdexcept>
#include <string>

#include "tandem/generate.hpp"

namespace tandem {

namespace {

TokenBatch row_of(std::span<const int32_t> tokens) {
  TokenBatch b;
  b.inputs.assign(tokens.begin(), tokens.end());
  b.targets.assign(tokens.size(), -1);
  b.batch = 1;
  b.seq = static_cast<int64_t>(tokens.size());
  return b;
}

// The logits of the last position of `logits` (one row), copied: the engine's buffer is overwritten
// by the next forward.
std::vector<float> last_position(const Engine& engine, const Logits& logits) {
  const std::vector<float> all = engine.host_logits(logits, 0);
  return std::vector<float>(all.end() - logits.vocab, all.end());
}

}  // namespace

Generated generate(Engine& engine, std::span<const int32_t> prompt, const GenerateOptions& options) {
  if (engine.local_ranks() != 1)
    throw std::invalid_argument(engine.name() + ": generation runs on one rank, this engine has " +
                                std::to_string(engine.local_ranks()));
  if (prompt.empty()) throw std::invalid_argument("the prompt is empty: give at least one token");
  if (options.max_new_tokens < 0)
    throw std::invalid_argument("--max-new-tokens must be >= 0, got " + std::to_string(options.max_new_tokens));
  for (size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= engine.vocab_size())
      throw std::invalid_argument("prompt token " + std::to_string(i) + " is " + std::to_string(prompt[i]) +
                                  ", outside the model's vocabulary [0, " + std::to_string(engine.vocab_size()) + ")");
  const int64_t total = static_cast<int64_t>(prompt.size()) + options.max_new_tokens;
  if (total > engine.max_sequence())
    throw std::invalid_argument("the prompt's " + std::to_string(prompt.size()) + " tokens and --max-new-tokens " +
                                std::to_string(options.max_new_tokens) + " make " + std::to_string(total) +
                                " positions, beyond the model's block_size of " + std::to_string(engine.max_sequence()) +
                                "; lower --max-new-tokens or shorten the prompt");
  Sampler sampler(options.sampling);
  Generated out;
  std::vector<int32_t> sequence(prompt.begin(), prompt.end());
  if (options.max_new_tokens == 0) return out;

  std::optional<Logits> cached;
  if (options.kv_cache) cached = engine.forward_cached(row_of(sequence), 0);
  out.used_kv_cache = cached.has_value();
  for (int64_t n = 0; n < options.max_new_tokens; ++n) {
    std::vector<float> logits;
    if (out.used_kv_cache) {
      if (n > 0) cached = engine.forward_cached(row_of(std::span(sequence).last(1)), static_cast<int64_t>(sequence.size()) - 1);
      if (!cached) throw std::runtime_error(engine.name() + ": the model's KV cache stopped answering mid-sequence");
      logits = last_position(engine, *cached);
    } else {
      logits = last_position(engine, engine.forward({row_of(sequence)}, /*train=*/false));
    }
    const int32_t token = sampler.next(logits);
    sequence.push_back(token);
    out.tokens.push_back(token);
    if (options.keep_logits) out.logits.push_back(std::move(logits));
  }
  return out;
}

}  // namespace tandem
