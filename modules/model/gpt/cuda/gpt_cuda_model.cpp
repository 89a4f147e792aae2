// GPT-2 forward and backward on one GPU (the pass structure and the ParamAccess order: ../gpt_model.hpp;
// the dtypes: gpt_cuda_model.hpp). Every call below only queues work on stream_.
#include "gpt_cuda_model.hpp"

#include <stdexcept>
#include <string>

#include "gpt_params.hpp"
#include "tandem/compute/layer_lease.hpp"
#include "tandem/cuda/attention.hpp"
#include "tandem/cuda/convert.hpp"
#include "tandem/cuda/gelu.hpp"
#include "tandem/cuda/layernorm.hpp"
#include "tandem/cuda/linear_grad.hpp"

namespace tandem::gpt {

using compute::Device;
using compute::DType;
using compute::Shape;
using compute::TensorView;
using compute::Trans;


template <class T>
struct GptCudaModel<T>::Layer {
  T *ln1, *qkv, *atty, *ln2, *fch, *fch_gelu;
  float *x_mid, *x_out;  // the residual stream
  float *ln1_mean, *ln1_rstd, *lse, *ln2_mean, *ln2_rstd;
};

template <class T>
GptCudaModel<T>::GptCudaModel(const GptConfig& cfg, cudaStream_t stream)
    : cfg_(cfg), infos_(gpt_param_infos(cfg)), stream_(stream) {
  layer_params_.resize(static_cast<size_t>(cfg_.layer_count()));
  for (size_t i = 0; i < infos_.size(); ++i) layer_params_[static_cast<size_t>(infos_[i].layer)].push_back(i);
}

template <class T>
void GptCudaModel<T>::reserve(int64_t B, int64_t T_, int64_t sets) {
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
  tokens_.reserve(BT);
  if constexpr (!std::is_same_v<T, float>) bias32_.reserve(2 * C);
}

template <class T>
typename GptCudaModel<T>::Layer GptCudaModel<T>::layer(int64_t block) const {
  const int64_t s = sets_ == 1 ? 0 : block;
  const int64_t BT = B_ * T_, C = cfg_.n_embd;
  Layer a{};
  a.ln1 = ln1_.get() + s * BT * C;
  a.qkv = qkv_.get() + s * BT * 3 * C;
  a.atty = atty_.get() + s * BT * C;
  a.x_mid = x_mid_.get() + s * BT * C;
  a.ln2 = ln2_.get() + s * BT * C;
  a.fch = fch_.get() + s * BT * 4 * C;
  a.fch_gelu = fch_gelu_.get() + s * BT * 4 * C;
  a.x_out = x_out_.get() + s * BT * C;
  a.ln1_mean = ln1_mean_.get() + s * BT;
  a.ln1_rstd = ln1_rstd_.get() + s * BT;
  a.lse = lse_.get() + s * B_ * cfg_.n_head * T_;
  a.ln2_mean = ln2_mean_.get() + s * BT;
  a.ln2_rstd = ln2_rstd_.get() + s * BT;
  return a;
}

template <class T>
template <class E>
std::vector<E*> GptCudaModel<T>::checked(const std::vector<TensorView>& views, int layer, const char* what) const {
  const std::vector<size_t>& expected = layer_params_[static_cast<size_t>(layer)];
  if (views.size() != expected.size())
    throw std::invalid_argument("gpt (cuda): layer " + std::to_string(layer) + ": got " + std::to_string(views.size()) +
                                " " + what + " views, expected " + std::to_string(expected.size()));
  std::vector<E*> out;
  out.reserve(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    const compute::ParamInfo& info = infos_[expected[i]];
    views[i].expect(compute::dtype_of_v<E>, Device::cuda, info.shape, "gpt (cuda): " + std::string(what) + " " + info.name);
    out.push_back(static_cast<E*>(views[i].data));
  }
  return out;
}

template <class T>
void GptCudaModel<T>::block_forward(const Layer& a, const float* x_in, const std::vector<T*>& p) {
  const int64_t B = B_, Tn = T_, BT = B * Tn, C = cfg_.n_embd;
  cuda::layernorm_forward(x_in, p[kLn1Weight], p[kLn1Bias], a.ln1, a.ln1_mean, a.ln1_rstd, BT, C, stream_);
  cuda::matmul(blas_, a.ln1, Trans::no, p[kAttnWeight], Trans::no, a.qkv, BT, 3 * C, C, stream_, 1.0f, 0.0f,
               p[kAttnBias]);
  cuda::attention_forward(attention_, a.qkv, a.atty, a.lse, B, Tn, C, cfg_.n_head, stream_);
  // Residuals: x_mid = x_in + c_proj(y) and x_out = x_mid + c_proj(gelu(c_fc(ln_2(x_mid)))). In
  // inference x_in may be x_out itself (one buffer set): it has been consumed by then.
  residual_product(a.atty, p[kAttnProjWeight], p[kAttnProjBias], x_in, a.x_mid, C, 0);
  cuda::layernorm_forward(a.x_mid, p[kLn2Weight], p[kLn2Bias], a.ln2, a.ln2_mean, a.ln2_rstd, BT, C, stream_);
  if constexpr (kFused) {  // GELU in the product's epilogue, the pre-activation kept for the backward
    cuda::matmul(blas_, a.ln2, Trans::no, p[kFcWeight], Trans::no, a.fch_gelu, BT, 4 * C, C, stream_, 1.0f, 0.0f,
                 p[kFcBias], cuda::Epilogue{.gelu = cuda::Epilogue::Gelu::forward, .gelu_input = a.fch});
  } else {
    cuda::matmul(blas_, a.ln2, Trans::no, p[kFcWeight], Trans::no, a.fch, BT, 4 * C, C, stream_, 1.0f, 0.0f,
                 p[kFcBias]);
    cuda::gelu_forward(a.fch, a.fch_gelu, BT * 4 * C, stream_);
  }
  residual_product(a.fch_gelu, p[kMlpProjWeight], p[kMlpProjBias], a.x_mid, a.x_out, 4 * C, 1);
}

template <class T>
void GptCudaModel<T>::residual_product(const T* in, const T* weight, const T* bias, const float* residual,
                                       float* out, int64_t k, int slot) {
  const int64_t BT = B_ * T_, C = cfg_.n_embd;
  // The product writes fp32, so its bias epilogue reads an fp32 bias: a bf16 one is widened first
  // (exactly; C elements, stream-ordered before the product that reads them).
  const float* bias32 = nullptr;
  if constexpr (std::is_same_v<T, float>) {
    bias32 = bias;
  } else {
    float* widened = bias32_.get() + slot * C;
    cuda::convert(bias, widened, C, stream_);
    bias32 = widened;
  }
  if constexpr (kFused) {  // the residual read as the product's beta term
    cuda::matmul(blas_, in, Trans::no, weight, Trans::no, out, BT, C, k, stream_, 1.0f, 1.0f, bias32,
                 cuda::Epilogue{.addend = residual});
  } else {  // the product added onto a copy of the residual (beta = 1)
    cuda::copy_async(out, residual, static_cast<size_t>(BT * C) * sizeof(float), stream_);
    cuda::matmul(blas_, in, Trans::no, weight, Trans::no, out, BT, C, k, stream_, 1.0f, 1.0f, bias32);
  }
}

template <class T>
TensorView GptCudaModel<T>::forward(compute::ParamAccess& access, const int32_t* host_tokens, int64_t B, int64_t Tn,
                                    bool train) {
  if (B <= 0 || Tn <= 0 || Tn > cfg_.block_size)
    throw std::invalid_argument("gpt forward (cuda): tokens [" + std::to_string(B) + ", " + std::to_string(Tn) +
                                "]: need B >= 1 and 1 <= T <= block_size (" + std::to_string(cfg_.block_size) + ")");
  have_train_forward_ = false;
  const int64_t BT = B * Tn, C = cfg_.n_embd, V = cfg_.vocab_size, L = cfg_.n_layer;
  // Checks every token on the host (naming the first bad one) before anything is queued.
  buckets_.build(host_tokens, BT, V, stream_);
  sets_ = train ? L : 1;
  reserve(B, Tn, sets_);
  B_ = B;
  T_ = Tn;
  cuda::copy_async(tokens_.get(), host_tokens, static_cast<size_t>(BT) * sizeof(int32_t), stream_);

  const std::vector<TensorView> emb_views = access.acquire(0);
  compute::LayerLease embed_lease(access, 0);
  const std::vector<T*> emb = params(emb_views, 0);
  cuda::embedding_forward(tokens_.get(), emb[kWte], emb[kWpe], x_embed_.get(), B, Tn, C, V, stream_);
  const float* x = x_embed_.get();
  for (int64_t i = 0; i < L; ++i) {
    const int l = cfg_.block_layer(i);
    const std::vector<TensorView> views = access.acquire(l);
    compute::LayerLease lease(access, l);
    const Layer a = layer(i);
    block_forward(a, x, params(views, l));
    lease.release();
    x = a.x_out;
  }
  const int lf = cfg_.final_layer();
  const std::vector<TensorView> fin_views = access.acquire(lf);
  compute::LayerLease final_lease(access, lf);
  const std::vector<T*> fin = params(fin_views, lf);
  cuda::layernorm_forward(x, fin[kLnfWeight], fin[kLnfBias], lnf_.get(), lnf_mean_.get(), lnf_rstd_.get(), BT, C,
                          stream_);
  cuda::matmul(blas_, lnf_.get(), Trans::no, emb[kWte], Trans::yes, logits_.get(), BT, V, C, stream_);  // tied head
  final_lease.release();
  embed_lease.release();
  have_train_forward_ = train;

  TensorView out;
  out.data = logits_.get();
  out.dtype = compute::dtype_of_v<T>;
  out.device = Device::cuda;
  out.shape = Shape{B, Tn, V};
  return out;
}

template <class T>
void GptCudaModel<T>::block_backward(const Layer& a, const float* x_in, const std::vector<T*>& p,
                                     const std::vector<float*>& g) {
  const int64_t B = B_, Tn = T_, BT = B * Tn, C = cfg_.n_embd;
  T* dx = dx_.get();  // on entry: d loss / d x_out; on return: d loss / d x_in
  T* dln = dln_.get();
  T* dfch = dfch_.get();
  T* datty = datty_.get();
  T* dqkv = dqkv_.get();
  // A linear layer y = x W + b (W [in, out]): dx = dy W^T, dW += x^T dy, db += column sums of dy
  // (the last two in one product's pass in bf16: cuda::linear_param_grads).
  // MLP half: x_out = x_mid + c_proj(gelu(c_fc(ln_2(x_mid))))
  if constexpr (kFused) {  // GELU's derivative applied in the product's epilogue
    cuda::matmul(blas_, dx, Trans::no, p[kMlpProjWeight], Trans::yes, dfch, BT, 4 * C, C, stream_, 1.0f, 0.0f,
                 static_cast<const T*>(nullptr), cuda::Epilogue{.gelu = cuda::Epilogue::Gelu::backward, .gelu_input = a.fch});
  } else {
    cuda::matmul(blas_, dx, Trans::no, p[kMlpProjWeight], Trans::yes, dfch, BT, 4 * C, C, stream_);
    cuda::gelu_backward(a.fch, dfch, BT * 4 * C, stream_);
  }
  cuda::linear_param_grads(blas_, a.fch_gelu, dx, g[kMlpProjWeight], g[kMlpProjBias], BT, 4 * C, C, stream_);
  cuda::matmul(blas_, dfch, Trans::no, p[kFcWeight], Trans::yes, dln, BT, C, 4 * C, stream_);
  cuda::linear_param_grads(blas_, a.ln2, dfch, g[kFcWeight], g[kFcBias], BT, C, 4 * C, stream_);
  cuda::layernorm_backward(dln, a.x_mid, p[kLn2Weight], a.ln2_mean, a.ln2_rstd, dx, g[kLn2Weight], g[kLn2Bias], BT, C,
                           stream_);
  // Attention half: x_mid = x_in + c_proj(attention(c_attn(ln_1(x_in))))
  cuda::matmul(blas_, dx, Trans::no, p[kAttnProjWeight], Trans::yes, datty, BT, C, C, stream_);
  cuda::linear_param_grads(blas_, a.atty, dx, g[kAttnProjWeight], g[kAttnProjBias], BT, C, C, stream_);
  cuda::attention_backward(attention_, datty, a.qkv, a.atty, a.lse, dqkv, B, Tn, C, cfg_.n_head, stream_);
  cuda::matmul(blas_, dqkv, Trans::no, p[kAttnWeight], Trans::yes, dln, BT, C, 3 * C, stream_);
  cuda::linear_param_grads(blas_, a.ln1, dqkv, g[kAttnWeight], g[kAttnBias], BT, C, 3 * C, stream_);
  cuda::layernorm_backward(dln, x_in, p[kLn1Weight], a.ln1_mean, a.ln1_rstd, dx, g[kLn1Weight], g[kLn1Bias], BT, C,
                           stream_);
}

template <class T>
void GptCudaModel<T>::backward(compute::ParamAccess& access, const T* dlogits) {
  if (!have_train_forward_)
    throw std::logic_error("gpt backward (cuda): no training forward to go back through (forward(train=true) first)");
  const int64_t B = B_, Tn = T_, BT = B * Tn, C = cfg_.n_embd, V = cfg_.vocab_size, L = cfg_.n_layer;
  dx_.reserve(BT * C);
  dln_.reserve(BT * C);
  dqkv_.reserve(BT * 3 * C);
  datty_.reserve(BT * C);
  dfch_.reserve(BT * 4 * C);

  const std::vector<TensorView> emb_views = access.acquire(0);
  compute::LayerLease embed_lease(access, 0);
  const std::vector<T*> emb = params(emb_views, 0);
  const std::vector<float*> demb = grads(access.acquire_grads(0), 0);
  const int lf = cfg_.final_layer();
  {
    const std::vector<TensorView> fin_views = access.acquire(lf);
    compute::LayerLease final_lease(access, lf);
    const std::vector<T*> fin = params(fin_views, lf);
    const std::vector<float*> dfin = grads(access.acquire_grads(lf), lf);
    // Tied head: logits = lnf wte^T, so dlnf = dlogits wte and dwte += dlogits^T lnf.
    cuda::matmul(blas_, dlogits, Trans::no, emb[kWte], Trans::no, dln_.get(), BT, C, V, stream_);
    cuda::matmul(blas_, dlogits, Trans::yes, lnf_.get(), Trans::no, demb[kWte], V, C, BT, stream_, 1.0f, 1.0f);
    cuda::fill_bytes_async(dx_.get(), 0, static_cast<size_t>(BT * C) * sizeof(T), stream_);
    cuda::layernorm_backward(dln_.get(), layer(L - 1).x_out, fin[kLnfWeight], lnf_mean_.get(), lnf_rstd_.get(),
                             dx_.get(), dfin[kLnfWeight], dfin[kLnfBias], BT, C, stream_);
    access.grads_done(lf);
    final_lease.release();
  }
  for (int64_t i = L - 1; i >= 0; --i) {
    const int l = cfg_.block_layer(i);
    const std::vector<TensorView> views = access.acquire(l);
    compute::LayerLease lease(access, l);
    const std::vector<T*> p = params(views, l);
    const std::vector<float*> g = grads(access.acquire_grads(l), l);
    block_backward(layer(i), i == 0 ? x_embed_.get() : layer(i - 1).x_out, p, g);
    access.grads_done(l);
    lease.release();
  }
  cuda::embedding_backward(buckets_, dx_.get(), demb[kWte], demb[kWpe], B, Tn, C, stream_);
  access.grads_done(0);
  embed_lease.release();
}

template class GptCudaModel<float>;
template class GptCudaModel<cuda::bf16>;

}  // namespace tandem::gpt
