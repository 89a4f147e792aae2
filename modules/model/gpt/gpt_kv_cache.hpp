// GPT-2 inference with a KV cache (SDK 1.4's forward_cached): a forward over new positions only.
//
// Generating token n with forward() recomputes all n positions of every layer; but a position's keys
// and values depend only on the tokens up to it, so they can be kept. Each call takes T_new tokens of
// B rows at positions past .. past + T_new - 1, computes every layer for those positions only, appends
// their k and v to the layer's cache, and lets each new query attend to every cached position 0 ..
// its own (causal). The logits equal forward()'s over the whole sequence up to the order of float
// sums (tests/gpt/kv_cache_test.cpp: within 1e-5).
//
// Parameters come through the same ParamAccess in the same order as forward() (gpt_model.hpp).
// Memory: per layer k and v [B, block_size, C] (allocated at past == 0), plus one layer's activations
// for T_new positions. One instance, one thread at a time.
#pragma once

#include <cstdint>
#include <vector>

#include "gpt_config.hpp"
#include "gpt_params.hpp"
#include "tandem/compute/param_access.hpp"
#include "tandem/compute/tensor.hpp"

namespace tandem::gpt {

template <class T>
class GptKvCache {
 public:
  explicit GptKvCache(const GptConfig& cfg);

  // tokens: B x T_new ids, row-major. past == 0 starts B new rows; otherwise past must be the
  // positions cached so far and B the same. Returns logits [B, T_new, vocab], valid until the next call.
  compute::TensorView forward(compute::ParamAccess& access, const int32_t* tokens, int64_t B, int64_t T_new,
                              int64_t past);
  int64_t cached_positions() const noexcept { return cached_; }

 private:
  void check(int64_t B, int64_t T_new, int64_t past) const;
  std::vector<T*> params_of(const std::vector<compute::TensorView>& views, int layer) const;
  // y [B, T_new, C] from the new positions' q (inside qkv [B, T_new, 3C]) and layer l's cache.
  void attend(int64_t l, const T* qkv, T* y, int64_t B, int64_t T_new, int64_t past);

  GptConfig cfg_;
  std::vector<compute::ParamInfo> infos_;
  std::vector<std::vector<size_t>> layer_params_;  // indices into infos_, per layer
  int64_t rows_ = 0, cached_ = 0;
  std::vector<compute::Buffer<T>> k_, v_;  // per block: [rows_, block_size, C]
  compute::Buffer<T> x_, ln_, mean_, rstd_, qkv_, atty_, x_mid_, fch_, fch_gelu_, logits_, scores_;
};

extern template class GptKvCache<float>;
extern template class GptKvCache<double>;

}  // namespace tandem::gpt
