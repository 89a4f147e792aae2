// `tandem eval`'s windows and mean (tandem/eval.hpp), through Engine::evaluate.
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/eval.hpp"

namespace tandem {

EvalResult evaluate_stream(Engine& engine, std::span<const uint16_t> ids, int64_t batch, int64_t seq) {
  if (batch < 1) throw std::invalid_argument("--batch must be >= 1, got " + std::to_string(batch));
  if (seq < 1) throw std::invalid_argument("--seq must be >= 1, got " + std::to_string(seq));
  if (seq > engine.max_sequence())
    throw std::invalid_argument("--seq " + std::to_string(seq) + " exceeds the model's block_size " +
                                std::to_string(engine.max_sequence()));
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t windows = n < 1 ? 0 : (n - 1) / seq;
  if (windows < 1)
    throw std::invalid_argument("the data holds " + std::to_string(n) + " tokens, fewer than one window of --seq " +
                                std::to_string(seq) + " + 1; give a smaller --seq or more data");
  std::vector<std::vector<TokenBatch>> steps;  // one rank: one micro-batch a step
  for (int64_t first = 0; first < windows; first += batch) {
    const int64_t rows = std::min(batch, windows - first);
    TokenBatch b;
    b.batch = rows;
    b.seq = seq;
    for (int64_t w = first; w < first + rows; ++w)
      for (int64_t t = 0; t < seq; ++t) {
        b.inputs.push_back(ids[static_cast<size_t>(w * seq + t)]);
        b.targets.push_back(ids[static_cast<size_t>(w * seq + t + 1)]);
      }
    steps.push_back({std::move(b)});
  }
  EvalResult r;
  r.windows = windows;
  r.tokens = windows * seq;
  r.loss = engine.evaluate(steps);
  r.perplexity = std::exp(r.loss);
  return r;
}

}  // namespace tandem
