// The sampler of `tandem generate` (tandem/generate.hpp): temperature, top-k, top-p, one draw.
// Everything after the logits is in double, so that the kept set and the probabilities do not depend
// on float rounding, and the draw is counter-based, so that a seed names the same tokens everywhere.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "tandem/compute/rng.hpp"
#include "tandem/generate.hpp"

namespace tandem {

void check_sampling_options(const SamplingOptions& o) {
  if (!(o.temperature >= 0) || !std::isfinite(o.temperature))
    throw std::invalid_argument("--temperature must be a finite number >= 0 (0: greedy), got " +
                                std::to_string(o.temperature));
  if (o.top_k < 0) throw std::invalid_argument("--top-k must be >= 0 (0: no limit), got " + std::to_string(o.top_k));
  if (!(o.top_p > 0 && o.top_p <= 1))
    throw std::invalid_argument("--top-p must be in (0, 1] (1: no limit), got " + std::to_string(o.top_p));
}

std::vector<double> sampling_distribution(std::span<const float> logits, const SamplingOptions& o) {
  check_sampling_options(o);
  if (logits.empty()) throw std::invalid_argument("sampling: no logits");
  const size_t V = logits.size();
  std::vector<double> probs(V, 0.0);
  // Most likely first, the lower id first among equals: greedy, top-k and top-p all read this order.
  std::vector<size_t> order(V);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return logits[a] > logits[b]; });
  for (float l : logits)
    if (std::isnan(l)) throw std::invalid_argument("sampling: the model's logits hold NaN");
  if (o.temperature == 0) {
    probs[order.front()] = 1.0;
    return probs;
  }
  const size_t k = o.top_k > 0 ? std::min(V, static_cast<size_t>(o.top_k)) : V;
  const double top = static_cast<double>(logits[order.front()]) / o.temperature;
  double sum = 0;
  for (size_t i = 0; i < k; ++i) {
    const double p = std::exp(static_cast<double>(logits[order[i]]) / o.temperature - top);
    probs[order[i]] = p;
    sum += p;
  }
  // top-p: the smallest prefix of the order whose mass reaches top_p; the first token always stays.
  size_t keep = k;
  if (o.top_p < 1) {
    double mass = 0;
    for (size_t i = 0; i < k; ++i) {
      mass += probs[order[i]] / sum;
      if (mass >= o.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept = 0;
  for (size_t i = 0; i < keep; ++i) kept += probs[order[i]];
  for (size_t i = keep; i < k; ++i) probs[order[i]] = 0;
  for (size_t i = 0; i < keep; ++i) probs[order[i]] /= kept;
  return probs;
}

Sampler::Sampler(const SamplingOptions& options) : options_(options) { check_sampling_options(options); }

int32_t Sampler::next(std::span<const float> logits) {
  const std::vector<double> probs = sampling_distribution(logits, options_);
  const double u = compute::uniform(options_.seed, /*stream=*/0, draws_++);
  double cumulative = 0;
  size_t last = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] == 0) continue;
    last = i;
    cumulative += probs[i];
    if (u < cumulative) return static_cast<int32_t>(i);
  }
  return static_cast<int32_t>(last);  // u beyond a sum rounded just below 1
}

}  // namespace tandem
