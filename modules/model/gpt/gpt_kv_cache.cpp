// GPT-2 inference over new positions with a KV cache (gpt_kv_cache.hpp). The block is forward()'s
// (gpt_model.cpp: pre-LayerNorm, Conv1D layers, GELU-tanh MLP, tied head), with attention over the
// cached keys and values in place of attention over the rows given.
#include "gpt_kv_cache.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tandem/compute/layer_lease.hpp"
#include "tandem/compute/gelu.hpp"
#include "tandem/compute/layernorm.hpp"
#include "tandem/compute/matmul.hpp"

namespace tandem::gpt {

using compute::Shape;
using compute::TensorView;
using compute::Trans;

template <class T>
GptKvCache<T>::GptKvCache(const GptConfig& cfg) : cfg_(cfg), infos_(gpt_param_infos(cfg)) {
  layer_params_.resize(static_cast<size_t>(cfg_.layer_count()));
  for (size_t i = 0; i < infos_.size(); ++i) layer_params_[static_cast<size_t>(infos_[i].layer)].push_back(i);
  k_.resize(static_cast<size_t>(cfg_.n_layer));
  v_.resize(static_cast<size_t>(cfg_.n_layer));
}

template <class T>
void GptKvCache<T>::check(int64_t B, int64_t T_new, int64_t past) const {
  if (B <= 0 || T_new <= 0)
    throw std::invalid_argument("gpt forward_cached: tokens [" + std::to_string(B) + ", " + std::to_string(T_new) +
                                "]: need B >= 1 and T_new >= 1");
  if (past < 0 || (past > 0 && (past != cached_ || B != rows_)))
    throw std::invalid_argument("gpt forward_cached: past " + std::to_string(past) + " with " + std::to_string(B) +
                                " rows, but the cache holds " + std::to_string(cached_) + " positions of " +
                                std::to_string(rows_) + " rows (past must be 0, to start again, or what is cached)");
  if (past + T_new > cfg_.block_size)
    throw std::invalid_argument("gpt forward_cached: positions up to " + std::to_string(past + T_new) +
                                " exceed block_size (" + std::to_string(cfg_.block_size) + ")");
}

template <class T>
std::vector<T*> GptKvCache<T>::params_of(const std::vector<TensorView>& views, int layer) const {
  const std::vector<size_t>& expected = layer_params_[static_cast<size_t>(layer)];
  if (views.size() != expected.size())
    throw std::invalid_argument("gpt: layer " + std::to_string(layer) + ": got " + std::to_string(views.size()) +
                                " parameter views, expected " + std::to_string(expected.size()));
  std::vector<T*> out;
  for (size_t i = 0; i < views.size(); ++i) {
    views[i].expect(compute::dtype_of_v<T>, infos_[expected[i]].shape, "gpt: parameter " + infos_[expected[i]].name);
    out.push_back(static_cast<T*>(views[i].data));
  }
  return out;
}

template <class T>
void GptKvCache<T>::attend(int64_t l, const T* qkv, T* y, int64_t B, int64_t T_new, int64_t past) {
  const int64_t C = cfg_.n_embd, H = cfg_.n_head, hd = C / H, P = cfg_.block_size;
  const T scale = T(1) / std::sqrt(static_cast<T>(hd));
  const T* k = k_[static_cast<size_t>(l)].data();
  const T* v = v_[static_cast<size_t>(l)].data();
  scores_.reserve(past + T_new);
  T* s = scores_.data();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T_new; ++t) {
      const int64_t n = past + t + 1;  // causal: positions 0 .. past + t
      for (int64_t h = 0; h < H; ++h) {
        const T* q = qkv + (b * T_new + t) * 3 * C + h * hd;
        T max = -INFINITY;
        for (int64_t j = 0; j < n; ++j) {
          const T* kj = k + (b * P + j) * C + h * hd;
          T dot = 0;
          for (int64_t d = 0; d < hd; ++d) dot += q[d] * kj[d];
          s[j] = dot * scale;
          max = std::max(max, s[j]);
        }
        T sum = 0;
        for (int64_t j = 0; j < n; ++j) {
          s[j] = std::exp(s[j] - max);
          sum += s[j];
        }
        T* out = y + (b * T_new + t) * C + h * hd;
        std::fill(out, out + hd, T(0));
        for (int64_t j = 0; j < n; ++j) {
          const T* vj = v + (b * P + j) * C + h * hd;
          const T p = s[j] / sum;
          for (int64_t d = 0; d < hd; ++d) out[d] += p * vj[d];
        }
      }
    }
}

template <class T>
TensorView GptKvCache<T>::forward(compute::ParamAccess& access, const int32_t* tokens, int64_t B, int64_t T_new,
                                  int64_t past) {
  check(B, T_new, past);
  const int64_t C = cfg_.n_embd, V = cfg_.vocab_size, P = cfg_.block_size, N = B * T_new;
  for (int64_t i = 0; i < N; ++i)
    if (tokens[i] < 0 || tokens[i] >= V)
      throw std::invalid_argument("gpt forward_cached: token " + std::to_string(tokens[i]) + " outside [0, " +
                                  std::to_string(V) + ")");
  if (past == 0) {  // new rows: the cache is sized for them
    rows_ = B;
    for (size_t l = 0; l < k_.size(); ++l) {
      k_[l].reserve(B * P * C);
      v_[l].reserve(B * P * C);
    }
  }
  cached_ = 0;  // until this call has succeeded, nothing valid is cached past `past`
  for (auto* b : {&x_, &ln_, &atty_, &x_mid_}) b->reserve(N * C);
  mean_.reserve(N);
  rstd_.reserve(N);
  qkv_.reserve(N * 3 * C);
  fch_.reserve(N * 4 * C);
  fch_gelu_.reserve(N * 4 * C);
  logits_.reserve(N * V);

  const std::vector<TensorView> emb_views = access.acquire(0);
  compute::LayerLease embed_lease(access, 0);
  const std::vector<T*> emb = params_of(emb_views, 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T_new; ++t) {
      const T* te = emb[kWte] + static_cast<int64_t>(tokens[b * T_new + t]) * C;
      const T* pe = emb[kWpe] + (past + t) * C;
      T* x = x_.data() + (b * T_new + t) * C;
      for (int64_t c = 0; c < C; ++c) x[c] = te[c] + pe[c];
    }
  for (int64_t i = 0; i < cfg_.n_layer; ++i) {
    const int l = cfg_.block_layer(i);
    const std::vector<TensorView> views = access.acquire(l);
    compute::LayerLease lease(access, l);
    const std::vector<T*> p = params_of(views, l);
    compute::layernorm_forward(x_.data(), p[kLn1Weight], p[kLn1Bias], ln_.data(), mean_.data(), rstd_.data(), N, C);
    compute::linear_forward(ln_.data(), p[kAttnWeight], p[kAttnBias], qkv_.data(), N, C, 3 * C);
    for (int64_t b = 0; b < B; ++b)  // append the new positions' k and v to this layer's cache
      for (int64_t t = 0; t < T_new; ++t) {
        const T* row = qkv_.data() + (b * T_new + t) * 3 * C;
        std::memcpy(k_[static_cast<size_t>(i)].data() + (b * P + past + t) * C, row + C, sizeof(T) * C);
        std::memcpy(v_[static_cast<size_t>(i)].data() + (b * P + past + t) * C, row + 2 * C, sizeof(T) * C);
      }
    attend(i, qkv_.data(), atty_.data(), B, T_new, past);
    std::memcpy(x_mid_.data(), x_.data(), sizeof(T) * N * C);
    compute::linear_forward(atty_.data(), p[kAttnProjWeight], p[kAttnProjBias], x_mid_.data(), N, C, C, true);
    compute::layernorm_forward(x_mid_.data(), p[kLn2Weight], p[kLn2Bias], ln_.data(), mean_.data(), rstd_.data(), N, C);
    compute::linear_forward(ln_.data(), p[kFcWeight], p[kFcBias], fch_.data(), N, C, 4 * C);
    compute::gelu_forward(fch_.data(), fch_gelu_.data(), N * 4 * C);
    std::memcpy(x_.data(), x_mid_.data(), sizeof(T) * N * C);
    compute::linear_forward(fch_gelu_.data(), p[kMlpProjWeight], p[kMlpProjBias], x_.data(), N, 4 * C, C, true);
    lease.release();
  }
  const int lf = cfg_.final_layer();
  const std::vector<TensorView> fin_views = access.acquire(lf);
  compute::LayerLease final_lease(access, lf);
  const std::vector<T*> fin = params_of(fin_views, lf);
  compute::layernorm_forward(x_.data(), fin[kLnfWeight], fin[kLnfBias], ln_.data(), mean_.data(), rstd_.data(), N, C);
  compute::matmul(ln_.data(), Trans::no, emb[kWte], Trans::yes, logits_.data(), N, V, C);  // tied head
  final_lease.release();
  embed_lease.release();
  cached_ = past + T_new;

  TensorView out;
  out.data = logits_.data();
  out.dtype = compute::dtype_of_v<T>;
  out.shape = Shape{B, T_new, V};
  return out;
}

template class GptKvCache<float>;
template class GptKvCache<double>;

}  // namespace tandem::gpt
