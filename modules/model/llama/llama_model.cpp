// Llama / Qwen2 forward and backward (the pass structure and the ParamAccess order: llama_model.hpp).
#include "llama_model.hpp"

#include <algorithm>
#include <optional>
#include <cstring>
#include <stdexcept>
#include <string>

#include "hf_linear.hpp"
#include "tandem/compute/layer_lease.hpp"
#include "tandem/compute/attention.hpp"
#include "tandem/compute/gqa.hpp"
#include "tandem/compute/matmul.hpp"
#include "tandem/compute/rmsnorm.hpp"
#include "tandem/compute/rope.hpp"
#include "tandem/compute/swiglu.hpp"

namespace tandem::llama {

using compute::Shape;
using compute::TensorView;
using compute::Trans;

template <class T>
struct LlamaModel<T>::Layer {
  T *n1, *rstd1, *qkv, *atty, *lse, *x_mid, *n2, *rstd2, *gate, *up, *act, *x_out;
};

template <class T>
LlamaModel<T>::LlamaModel(const LlamaConfig& cfg) : cfg_(cfg), slots_(block_slots(cfg)), infos_(llama_param_infos(cfg)) {
  layer_params_.resize(static_cast<size_t>(cfg_.layer_count()));
  for (size_t i = 0; i < infos_.size(); ++i) layer_params_[static_cast<size_t>(infos_[i].layer)].push_back(i);
}

template <class T>
void LlamaModel<T>::reserve(int64_t B, int64_t Tn, int64_t sets) {
  const int64_t BT = B * Tn, C = cfg_.hidden_size, Q = cfg_.q_width(), KV = cfg_.kv_width(),
                I = cfg_.intermediate_size, H = cfg_.num_attention_heads;
  n1_.reserve(sets * BT * C);
  rstd1_.reserve(sets * BT);
  qkv_.reserve(sets * BT * 3 * Q);
  atty_.reserve(sets * BT * Q);
  lse_.reserve(sets * B * H * Tn);
  x_mid_.reserve(sets * BT * C);
  n2_.reserve(sets * BT * C);
  rstd2_.reserve(sets * BT);
  gate_.reserve(sets * BT * I);
  up_.reserve(sets * BT * I);
  act_.reserve(sets * BT * I);
  x_out_.reserve(sets * BT * C);
  x_embed_.reserve(BT * C);
  nf_.reserve(BT * C);
  rstdf_.reserve(BT);
  logits_.reserve(BT * cfg_.vocab_size);
  q_.reserve(BT * Q);
  k_.reserve(BT * KV);
  v_.reserve(BT * KV);
  const int64_t half = cfg_.head_size() / 2;
  cos_.reserve(Tn * half);
  sin_.reserve(Tn * half);
}

template <class T>
typename LlamaModel<T>::Layer LlamaModel<T>::layer(int64_t block) const {
  const int64_t s = sets_ == 1 ? 0 : block;
  const int64_t BT = B_ * T_, C = cfg_.hidden_size, Q = cfg_.q_width(), I = cfg_.intermediate_size;
  return Layer{n1_.data() + s * BT * C,   rstd1_.data() + s * BT,    qkv_.data() + s * BT * 3 * Q,
               atty_.data() + s * BT * Q, lse_.data() + s * B_ * cfg_.num_attention_heads * T_,
               x_mid_.data() + s * BT * C, n2_.data() + s * BT * C,   rstd2_.data() + s * BT,
               gate_.data() + s * BT * I, up_.data() + s * BT * I,    act_.data() + s * BT * I,
               x_out_.data() + s * BT * C};
}

template <class T>
std::vector<T*> LlamaModel<T>::checked(const std::vector<TensorView>& views, int layer, const char* what) const {
  const std::vector<size_t>& expected = layer_params_[static_cast<size_t>(layer)];
  if (views.size() != expected.size())
    throw std::invalid_argument("llama: layer " + std::to_string(layer) + ": got " + std::to_string(views.size()) +
                                " " + what + " views, expected " + std::to_string(expected.size()));
  std::vector<T*> out;
  out.reserve(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    const compute::ParamInfo& info = infos_[expected[i]];
    views[i].expect(compute::dtype_of_v<T>, info.shape, "llama: " + std::string(what) + " " + info.name);
    out.push_back(static_cast<T*>(views[i].data));
  }
  return out;
}

namespace {
template <class T>
const T* slot(const std::vector<T*>& p, int index) {
  return index < 0 ? nullptr : p[static_cast<size_t>(index)];
}
template <class T>
T* grad_slot(const std::vector<T*>& g, int index) {
  return index < 0 ? nullptr : g[static_cast<size_t>(index)];
}
}  // namespace

template <class T>
void LlamaModel<T>::block_forward(const Layer& a, const T* x_in, const std::vector<T*>& p) {
  const BlockSlots& s = slots_;
  const int64_t B = B_, Tn = T_, BT = B * Tn, C = cfg_.hidden_size, Q = cfg_.q_width(), KV = cfg_.kv_width(),
                I = cfg_.intermediate_size, H = cfg_.num_attention_heads, Hkv = cfg_.kv_heads(), hd = cfg_.head_size();
  compute::rmsnorm_forward(x_in, p[s.norm1], a.n1, a.rstd1, BT, C, cfg_.rms_norm_eps);
  linear_nt_forward(a.n1, p[s.q_w], slot(p, s.q_b), q_.data(), BT, C, Q);
  linear_nt_forward(a.n1, p[s.k_w], slot(p, s.k_b), k_.data(), BT, C, KV);
  linear_nt_forward(a.n1, p[s.v_w], slot(p, s.v_b), v_.data(), BT, C, KV);
  compute::rope_forward(q_.data(), cos_.data(), sin_.data(), B, Tn, H, hd);
  compute::rope_forward(k_.data(), cos_.data(), sin_.data(), B, Tn, Hkv, hd);
  compute::gqa_pack(q_.data(), k_.data(), v_.data(), a.qkv, BT, H, Hkv, hd);
  compute::attention_forward(a.qkv, a.atty, a.lse, B, Tn, Q, H);
  std::memcpy(a.x_mid, x_in, static_cast<size_t>(BT * C) * sizeof(T));  // residual: x_mid = x_in + o_proj(...)
  linear_nt_forward(a.atty, p[s.o_w], slot(p, s.o_b), a.x_mid, BT, Q, C, /*accumulate=*/true);
  compute::rmsnorm_forward(a.x_mid, p[s.norm2], a.n2, a.rstd2, BT, C, cfg_.rms_norm_eps);
  linear_nt_forward(a.n2, p[s.gate_w], static_cast<const T*>(nullptr), a.gate, BT, C, I);
  linear_nt_forward(a.n2, p[s.up_w], static_cast<const T*>(nullptr), a.up, BT, C, I);
  compute::swiglu_forward(a.gate, a.up, a.act, BT * I);
  // In inference x_in may be x_out itself (one buffer set): it has been consumed by now.
  std::memcpy(a.x_out, a.x_mid, static_cast<size_t>(BT * C) * sizeof(T));
  linear_nt_forward(a.act, p[s.down_w], static_cast<const T*>(nullptr), a.x_out, BT, I, C, /*accumulate=*/true);
}

template <class T>
void LlamaModel<T>::head_forward(const T* x, const std::vector<T*>& fin, const T* head) {
  const int64_t BT = B_ * T_, C = cfg_.hidden_size, V = cfg_.vocab_size;
  compute::rmsnorm_forward(x, fin[kFinalNorm], nf_.data(), rstdf_.data(), BT, C, cfg_.rms_norm_eps);
  compute::matmul(nf_.data(), Trans::no, head, Trans::yes, logits_.data(), BT, V, C);
}

template <class T>
TensorView LlamaModel<T>::forward(compute::ParamAccess& access, const int32_t* tokens, int64_t B, int64_t Tn,
                                  bool train) {
  if (B <= 0 || Tn <= 0 || Tn > cfg_.max_position_embeddings)
    throw std::invalid_argument("llama forward: tokens [" + std::to_string(B) + ", " + std::to_string(Tn) +
                                "]: need B >= 1 and 1 <= T <= max_position_embeddings (" +
                                std::to_string(cfg_.max_position_embeddings) + ")");
  const int64_t BT = B * Tn, C = cfg_.hidden_size, V = cfg_.vocab_size, L = cfg_.num_hidden_layers;
  for (int64_t i = 0; i < BT; ++i)
    if (tokens[i] < 0 || tokens[i] >= V)
      throw std::invalid_argument("llama forward: token " + std::to_string(tokens[i]) + " at position " +
                                  std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
  have_train_forward_ = false;
  sets_ = train ? L : 1;
  reserve(B, Tn, sets_);
  B_ = B;
  T_ = Tn;
  tokens_.assign(tokens, tokens + BT);
  compute::rope_table(Tn, cfg_.head_size(), cfg_.rope_theta, cos_.data(), sin_.data());

  const bool tied = cfg_.tie_word_embeddings;
  const std::vector<TensorView> emb_views = access.acquire(0);
  compute::LayerLease embed_lease(access, 0);
  const std::vector<T*> emb = checked(emb_views, 0, "parameter");
  for (int64_t i = 0; i < BT; ++i)
    std::memcpy(x_embed_.data() + i * C, emb[0] + static_cast<int64_t>(tokens[i]) * C,
                static_cast<size_t>(C) * sizeof(T));
  if (!tied) embed_lease.release();  // the untied head does not come back to it
  const T* x = x_embed_.data();
  for (int64_t i = 0; i < L; ++i) {
    const int l = cfg_.block_layer(i);
    const std::vector<TensorView> views = access.acquire(l);
    compute::LayerLease lease(access, l);
    const Layer a = layer(i);
    block_forward(a, x, checked(views, l, "parameter"));
    lease.release();
    x = a.x_out;
  }
  const int lf = cfg_.final_layer();
  const std::vector<TensorView> fin_views = access.acquire(lf);
  compute::LayerLease final_lease(access, lf);
  const std::vector<T*> fin = checked(fin_views, lf, "parameter");
  head_forward(x, fin, tied ? emb[0] : fin[kLmHead]);
  final_lease.release();
  if (tied) embed_lease.release();
  have_train_forward_ = train;

  TensorView out;
  out.data = logits_.data();
  out.dtype = compute::dtype_of_v<T>;
  out.shape = Shape{B, Tn, V};
  return out;
}

template <class T>
TensorView LlamaModel<T>::forward(compute::ParamAccess& access, const TensorView& tokens, bool train) {
  if (tokens.shape.rank() != 2)
    throw std::invalid_argument("llama forward: tokens must be [B, T], got " + tokens.shape.to_string());
  return forward(access, tokens.as<int32_t>("llama forward: tokens"), tokens.shape[0], tokens.shape[1], train);
}

template <class T>
void LlamaModel<T>::block_backward(const Layer& a, const T* x_in, const std::vector<T*>& p, const std::vector<T*>& g) {
  const BlockSlots& s = slots_;
  const int64_t B = B_, Tn = T_, BT = B * Tn, C = cfg_.hidden_size, Q = cfg_.q_width(), KV = cfg_.kv_width(),
                I = cfg_.intermediate_size, H = cfg_.num_attention_heads, Hkv = cfg_.kv_heads(), hd = cfg_.head_size();
  T* dx = dx_.data();  // on entry: d loss / d x_out; on return: d loss / d x_in
  T* dn = dn_.data();
  // MLP half: x_out = x_mid + down(silu(gate(n2)) * up(n2)), n2 = post_attention_layernorm(x_mid)
  linear_nt_backward(a.act, p[s.down_w], dx, dact_.data(), g[s.down_w], static_cast<T*>(nullptr), BT, I, C);
  compute::swiglu_backward(a.gate, a.up, dact_.data(), dgate_.data(), dup_.data(), BT * I);
  linear_nt_backward(a.n2, p[s.gate_w], dgate_.data(), dn, g[s.gate_w], static_cast<T*>(nullptr), BT, C, I);
  linear_nt_backward(a.n2, p[s.up_w], dup_.data(), dn, g[s.up_w], static_cast<T*>(nullptr), BT, C, I, true);
  compute::rmsnorm_backward(dn, a.x_mid, p[s.norm2], a.rstd2, dx, g[s.norm2], BT, C);
  // Attention half: x_mid = x_in + o_proj(attention(rope(q), rope(k), v)), from n1 = input_layernorm(x_in)
  linear_nt_backward(a.atty, p[s.o_w], dx, datty_.data(), g[s.o_w], grad_slot(g, s.o_b), BT, Q, C);
  compute::attention_backward(datty_.data(), a.qkv, a.lse, dqkv_.data(), B, Tn, Q, H);
  compute::gqa_unpack_backward(dqkv_.data(), dq_.data(), dk_.data(), dv_.data(), BT, H, Hkv, hd);
  compute::rope_backward(dq_.data(), cos_.data(), sin_.data(), B, Tn, H, hd);
  compute::rope_backward(dk_.data(), cos_.data(), sin_.data(), B, Tn, Hkv, hd);
  linear_nt_backward(a.n1, p[s.q_w], dq_.data(), dn, g[s.q_w], grad_slot(g, s.q_b), BT, C, Q);
  linear_nt_backward(a.n1, p[s.k_w], dk_.data(), dn, g[s.k_w], grad_slot(g, s.k_b), BT, C, KV, true);
  linear_nt_backward(a.n1, p[s.v_w], dv_.data(), dn, g[s.v_w], grad_slot(g, s.v_b), BT, C, KV, true);
  compute::rmsnorm_backward(dn, x_in, p[s.norm1], a.rstd1, dx, g[s.norm1], BT, C);
}

template <class T>
void LlamaModel<T>::head_backward(const T* dlogits, const std::vector<T*>& fin, const std::vector<T*>& dfin,
                                  const T* head, T* dhead) {
  const int64_t BT = B_ * T_, C = cfg_.hidden_size, V = cfg_.vocab_size;
  // logits = nf head^T: dnf = dlogits head, dhead += dlogits^T nf.
  compute::matmul(dlogits, Trans::no, head, Trans::no, dn_.data(), BT, C, V);
  compute::matmul(dlogits, Trans::yes, nf_.data(), Trans::no, dhead, V, C, BT, T(1), T(1));
  std::fill(dx_.data(), dx_.data() + BT * C, T(0));
  compute::rmsnorm_backward(dn_.data(), layer(cfg_.num_hidden_layers - 1).x_out, fin[kFinalNorm], rstdf_.data(),
                            dx_.data(), dfin[kFinalNorm], BT, C);
}

template <class T>
void LlamaModel<T>::backward(compute::ParamAccess& access, const T* dlogits) {
  if (!have_train_forward_)
    throw std::logic_error("llama backward: no training forward to go back through (forward(train=true) first)");
  const int64_t BT = B_ * T_, C = cfg_.hidden_size, Q = cfg_.q_width(), KV = cfg_.kv_width(),
                I = cfg_.intermediate_size, L = cfg_.num_hidden_layers;
  dx_.reserve(BT * C);
  dn_.reserve(BT * C);
  dqkv_.reserve(BT * 3 * Q);
  dq_.reserve(BT * Q);
  dk_.reserve(BT * KV);
  dv_.reserve(BT * KV);
  datty_.reserve(BT * Q);
  dgate_.reserve(BT * I);
  dup_.reserve(BT * I);
  dact_.reserve(BT * I);

  const bool tied = cfg_.tie_word_embeddings;
  std::vector<TensorView> emb_views;
  std::vector<T*> emb, demb;
  std::optional<compute::LayerLease> embed_lease;
  if (tied) {  // the head's gradient goes into embed_tokens' buffer: hold layer 0 from the start
    emb_views = access.acquire(0);
    embed_lease.emplace(access, 0);
    emb = checked(emb_views, 0, "parameter");
    demb = checked(access.acquire_grads(0), 0, "gradient");
  }
  const int lf = cfg_.final_layer();
  {
    const std::vector<TensorView> fin_views = access.acquire(lf);
    compute::LayerLease final_lease(access, lf);
    const std::vector<T*> fin = checked(fin_views, lf, "parameter");
    const std::vector<T*> dfin = checked(access.acquire_grads(lf), lf, "gradient");
    head_backward(dlogits, fin, dfin, tied ? emb[0] : fin[kLmHead], tied ? demb[0] : dfin[kLmHead]);
    access.grads_done(lf);
    final_lease.release();
  }
  for (int64_t i = L - 1; i >= 0; --i) {
    const int l = cfg_.block_layer(i);
    const std::vector<TensorView> views = access.acquire(l);
    compute::LayerLease lease(access, l);
    const std::vector<T*> p = checked(views, l, "parameter");
    const std::vector<T*> g = checked(access.acquire_grads(l), l, "gradient");
    block_backward(layer(i), i == 0 ? x_embed_.data() : layer(i - 1).x_out, p, g);
    access.grads_done(l);
    lease.release();
  }
  if (!tied) {
    emb_views = access.acquire(0);
    embed_lease.emplace(access, 0);
    emb = checked(emb_views, 0, "parameter");
    demb = checked(access.acquire_grads(0), 0, "gradient");
  }
  // d embed_tokens[token] += dx, in token order (deterministic).
  for (int64_t i = 0; i < BT; ++i) {
    T* row = demb[0] + static_cast<int64_t>(tokens_[static_cast<size_t>(i)]) * C;
    const T* d = dx_.data() + i * C;
    for (int64_t c = 0; c < C; ++c) row[c] += d[c];
  }
  access.grads_done(0);
  embed_lease->release();
}

template <class T>
void LlamaModel<T>::backward(compute::ParamAccess& access, const TensorView& dlogits) {
  dlogits.expect(compute::dtype_of_v<T>, Shape{B_, T_, cfg_.vocab_size}, "llama backward: dlogits");
  backward(access, static_cast<const T*>(dlogits.data));
}

template class LlamaModel<float>;
template class LlamaModel<double>;

}  // namespace tandem::llama
