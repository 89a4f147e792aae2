// Shared set-up for the GPT tests: a store initialised as GPT-2 and then perturbed, so that no
// parameter sits at a special value (LayerNorm weights of exactly 1, biases of 0) that could hide
// a wrong gradient; random tokens.
#pragma once

#include <cstdint>
#include <vector>

#include "gpt_params.hpp"
#include "tandem/compute/param_access.hpp"
#include "tandem/compute/rng.hpp"

namespace tandem::gpt::test {

inline compute::ResidentParams make_store(const GptConfig& cfg, compute::DType dtype, uint64_t seed,
                                          double perturb = 0.1) {
  const std::vector<GptParam> params = gpt_parameters(cfg);
  compute::ResidentParams store(gpt_param_infos(cfg), dtype);
  for (size_t i = 0; i < params.size(); ++i) {
    gpt_init_param(params, i, seed, store.param(i));
    const compute::TensorView v = store.param(i);
    for (int64_t e = 0; e < v.numel(); ++e) {
      const double noise = perturb * compute::normal(seed + 1, i, static_cast<uint64_t>(e));
      if (dtype == compute::DType::f64)
        static_cast<double*>(v.data)[e] += noise;
      else
        static_cast<float*>(v.data)[e] += static_cast<float>(noise);
    }
  }
  return store;
}

inline std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, uint64_t seed) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    t[static_cast<size_t>(i)] = static_cast<int32_t>(compute::uniform(seed, 99, static_cast<uint64_t>(i)) * vocab);
  return t;
}

}  // namespace tandem::gpt::test
