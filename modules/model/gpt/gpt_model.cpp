// GPT-2 forward and backward (the pass structure and the ParamAccess call order: gpt_model.hpp).
#include "gpt_model.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tandem/compute/layer_lease.hpp"
#include "tandem/compute/attention.hpp"
#include "tandem/compute/embedding.hpp"
#include "tandem/compute/gelu.hpp"
#include "tandem/compute/layernorm.hpp"
#include "tandem/compute/matmul.hpp"

namespace tandem::gpt {

using compute::Shape;
using compute::Trans;
using compute::TensorView;


template <class T>
struct GptModel<T>::Layer {
  T *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *lse, *x_mid, *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu, *x_out;
};

template <class T>
GptModel<T>::GptModel(const GptConfig& cfg) : cfg_(cfg), infos_(gpt_param_infos(cfg)) {
  layer_params_.resize(static_cast<size_t>(cfg_.layer_count()));
  for (size_t i = 0; i < infos_.size(); ++i) layer_params_[static_cast<size_t>(infos_[i].layer)].push_back(i);
}

template <class T>
void GptModel<T>::reserve(int64_t B, int64_t T_, int64_t sets) {
  const int64_t BT = B * T_, C = cfg_.n_embd;
  ln1_.reserve(sets * BT * C);
  ln1_mean_.reserve(sets * BT);
  ln1_rstd_.reserve(sets * BT);
  qkv_.reserve(sets * BT * 3 * C);
  atty_.reserve(sets * BT * C);
  lse_.reserve(sets * B * cfg_.n_head * T_);
  x_mid_.reserve(sets * BT * C);
  ln2_.reserve(sets * BT * C);
  ln2_mean_.reserve(sets * BT);
  ln2_rstd_.reserve(sets * BT);
  fch_.reserve(sets * BT * 4 * C);
  fch_gelu_.reserve(sets * BT * 4 * C);
  x_out_.reserve(sets * BT * C);
  x_embed_.reserve(BT * C);
  lnf_.reserve(BT * C);
  lnf_mean_.reserve(BT);
  lnf_rstd_.reserve(BT);
  logits_.reserve(BT * cfg_.vocab_size);
}

template <class T>
typename GptModel<T>::Layer GptModel<T>::layer(int64_t block) const {
  const int64_t set = sets_ == 1 ? 0 : block;
  const int64_t BT = B_ * T_, C = cfg_.n_embd;
  return Layer{ln1_.data() + set * BT * C,     ln1_mean_.data() + set * BT, ln1_rstd_.data() + set * BT,
               qkv_.data() + set * BT * 3 * C, atty_.data() + set * BT * C, lse_.data() + set * B_ * cfg_.n_head * T_,
               x_mid_.data() + set * BT * C,   ln2_.data() + set * BT * C,  ln2_mean_.data() + set * BT,
               ln2_rstd_.data() + set * BT,    fch_.data() + set * BT * 4 * C, fch_gelu_.data() + set * BT * 4 * C,
               x_out_.data() + set * BT * C};
}

template <class T>
std::vector<T*> GptModel<T>::checked(const std::vector<TensorView>& views, int layer, const char* what) const {
  const std::vector<size_t>& expected = layer_params_[static_cast<size_t>(layer)];
  if (views.size() != expected.size())
    throw std::invalid_argument("gpt: layer " + std::to_string(layer) + ": got " + std::to_string(views.size()) + " " +
                                what + " views, expected " + std::to_string(expected.size()));
  std::vector<T*> out;
  out.reserve(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    const compute::ParamInfo& info = infos_[expected[i]];
    views[i].expect(compute::dtype_of_v<T>, info.shape, "gpt: " + std::string(what) + " " + info.name);
    out.push_back(static_cast<T*>(views[i].data));
  }
  return out;
}

template <class T>
void GptModel<T>::block_forward(const Layer& a, const T* x_in, const std::vector<T*>& p) {
  const int64_t B = B_, Tn = T_, BT = B * Tn, C = cfg_.n_embd;
  compute::layernorm_forward(x_in, p[kLn1Weight], p[kLn1Bias], a.ln1, a.ln1_mean, a.ln1_rstd, BT, C);
  compute::linear_forward(a.ln1, p[kAttnWeight], p[kAttnBias], a.qkv, BT, C, 3 * C);
  compute::attention_forward(a.qkv, a.atty, a.lse, B, Tn, C, cfg_.n_head);
  std::memcpy(a.x_mid, x_in, static_cast<size_t>(BT * C) * sizeof(T));  // residual: x_mid = x_in + proj
  compute::linear_forward(a.atty, p[kAttnProjWeight], p[kAttnProjBias], a.x_mid, BT, C, C, /*accumulate=*/true);
  compute::layernorm_forward(a.x_mid, p[kLn2Weight], p[kLn2Bias], a.ln2, a.ln2_mean, a.ln2_rstd, BT, C);
  compute::linear_forward(a.ln2, p[kFcWeight], p[kFcBias], a.fch, BT, C, 4 * C);
  compute::gelu_forward(a.fch, a.fch_gelu, BT * 4 * C);
  // In inference x_in may be x_out itself (one buffer set): it has been consumed by now.
  std::memcpy(a.x_out, a.x_mid, static_cast<size_t>(BT * C) * sizeof(T));
  compute::linear_forward(a.fch_gelu, p[kMlpProjWeight], p[kMlpProjBias], a.x_out, BT, 4 * C, C, /*accumulate=*/true);
}

template <class T>
TensorView GptModel<T>::forward(compute::ParamAccess& access, const int32_t* tokens, int64_t B, int64_t Tn,
                                bool train) {
  if (B <= 0 || Tn <= 0 || Tn > cfg_.block_size)
    throw std::invalid_argument("gpt forward: tokens [" + std::to_string(B) + ", " + std::to_string(Tn) +
                                "]: need B >= 1 and 1 <= T <= block_size (" + std::to_string(cfg_.block_size) + ")");
  have_train_forward_ = false;
  const int64_t BT = B * Tn, C = cfg_.n_embd, V = cfg_.vocab_size, L = cfg_.n_layer;
  sets_ = train ? L : 1;
  reserve(B, Tn, sets_);
  B_ = B;
  T_ = Tn;
  tokens_.assign(tokens, tokens + BT);

  const std::vector<TensorView> emb_views = access.acquire(0);
  compute::LayerLease embed_lease(access, 0);
  const std::vector<T*> emb = checked(emb_views, 0, "parameter");
  compute::embedding_forward(tokens, emb[kWte], emb[kWpe], x_embed_.data(), B, Tn, C, V);
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
  compute::layernorm_forward(x, fin[kLnfWeight], fin[kLnfBias], lnf_.data(), lnf_mean_.data(), lnf_rstd_.data(), BT, C);
  compute::matmul(lnf_.data(), Trans::no, emb[kWte], Trans::yes, logits_.data(), BT, V, C);  // tied head
  final_lease.release();
  embed_lease.release();
  have_train_forward_ = train;

  TensorView out;
  out.data = logits_.data();
  out.dtype = compute::dtype_of_v<T>;
  out.shape = Shape{B, Tn, V};
  return out;
}

template <class T>
TensorView GptModel<T>::forward(compute::ParamAccess& access, const TensorView& tokens, bool train) {
  if (tokens.shape.rank() != 2)
    throw std::invalid_argument("gpt forward: tokens must be [B, T], got " + tokens.shape.to_string());
  return forward(access, tokens.as<int32_t>("gpt forward: tokens"), tokens.shape[0], tokens.shape[1], train);
}

template <class T>
void GptModel<T>::block_backward(const Layer& a, const T* x_in, const std::vector<T*>& p, const std::vector<T*>& g) {
  const int64_t B = B_, Tn = T_, BT = B * Tn, C = cfg_.n_embd;
  T* dx = dx_.data();  // on entry: d loss / d x_out; on return: d loss / d x_in
  T* dln = dln_.data();
  T* dfch = dfch_.data();
  T* datty = datty_.data();
  T* dqkv = dqkv_.data();
  // MLP half: x_out = x_mid + c_proj(gelu(c_fc(ln_2(x_mid))))
  compute::linear_backward(a.fch_gelu, p[kMlpProjWeight], dx, dfch, g[kMlpProjWeight], g[kMlpProjBias], BT, 4 * C, C);
  compute::gelu_backward(a.fch, dfch, BT * 4 * C);
  compute::linear_backward(a.ln2, p[kFcWeight], dfch, dln, g[kFcWeight], g[kFcBias], BT, C, 4 * C);
  compute::layernorm_backward(dln, a.x_mid, p[kLn2Weight], a.ln2_mean, a.ln2_rstd, dx, g[kLn2Weight], g[kLn2Bias],
                              BT, C);
  // Attention half: x_mid = x_in + c_proj(attention(c_attn(ln_1(x_in))))
  compute::linear_backward(a.atty, p[kAttnProjWeight], dx, datty, g[kAttnProjWeight], g[kAttnProjBias], BT, C, C);
  compute::attention_backward(datty, a.qkv, a.lse, dqkv, B, Tn, C, cfg_.n_head);
  compute::linear_backward(a.ln1, p[kAttnWeight], dqkv, dln, g[kAttnWeight], g[kAttnBias], BT, C, 3 * C);
  compute::layernorm_backward(dln, x_in, p[kLn1Weight], a.ln1_mean, a.ln1_rstd, dx, g[kLn1Weight], g[kLn1Bias], BT,
                              C);
}

template <class T>
void GptModel<T>::backward(compute::ParamAccess& access, const T* dlogits) {
  if (!have_train_forward_)
    throw std::logic_error("gpt backward: no training forward to go back through (forward(train=true) first)");
  const int64_t B = B_, Tn = T_, BT = B * Tn, C = cfg_.n_embd, V = cfg_.vocab_size, L = cfg_.n_layer;
  dx_.reserve(BT * C);
  dln_.reserve(BT * C);
  dqkv_.reserve(BT * 3 * C);
  datty_.reserve(BT * C);
  dfch_.reserve(BT * 4 * C);

  const std::vector<TensorView> emb_views = access.acquire(0);
  compute::LayerLease embed_lease(access, 0);
  const std::vector<T*> emb = checked(emb_views, 0, "parameter");
  const std::vector<T*> demb = checked(access.acquire_grads(0), 0, "gradient");
  const int lf = cfg_.final_layer();
  {
    const std::vector<TensorView> fin_views = access.acquire(lf);
    compute::LayerLease final_lease(access, lf);
    const std::vector<T*> fin = checked(fin_views, lf, "parameter");
    const std::vector<T*> dfin = checked(access.acquire_grads(lf), lf, "gradient");
    // Tied head: logits = lnf wte^T, so dlnf = dlogits wte and dwte += dlogits^T lnf.
    compute::matmul(dlogits, Trans::no, emb[kWte], Trans::no, dln_.data(), BT, C, V);
    compute::matmul(dlogits, Trans::yes, lnf_.data(), Trans::no, demb[kWte], V, C, BT, T(1), T(1));
    std::fill(dx_.data(), dx_.data() + BT * C, T(0));
    compute::layernorm_backward(dln_.data(), layer(L - 1).x_out, fin[kLnfWeight], lnf_mean_.data(), lnf_rstd_.data(),
                                dx_.data(), dfin[kLnfWeight], dfin[kLnfBias], BT, C);
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
  compute::embedding_backward(tokens_.data(), dx_.data(), demb[kWte], demb[kWpe], B, Tn, C);
  access.grads_done(0);
  embed_lease.release();
}

template <class T>
void GptModel<T>::backward(compute::ParamAccess& access, const TensorView& dlogits) {
  dlogits.expect(compute::dtype_of_v<T>, Shape{B_, T_, cfg_.vocab_size}, "gpt backward: dlogits");
  backward(access, static_cast<const T*>(dlogits.data));
}

template class GptModel<float>;
template class GptModel<double>;

}  // namespace tandem::gpt
