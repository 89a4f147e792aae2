// GPT-2's forward and backward on one GPU: the same model, pass structure and ParamAccess call
// order as the CPU GptModel (../gpt_model.hpp), with the CUDA backend's kernels (tandem/cuda/*).
//
// T is the working type of parameters and activations: float (true fp32 everywhere, cuBLASLt
// without TF32: the precision of the CPU path, for checks against references) or bf16 (tensor-core
// products with fp32 accumulation, fp32 statistics: mixed precision as DeepSpeed's "bf16" runs it).
// In bf16 the residual adds, GELU and the bias gradients ride in the products' epilogues
// (cuda::Epilogue, cuda::linear_param_grads); fp32 keeps them as kernels of their own, the plainest
// form for the checks.
// The residual stream (the embedding's output, x_mid and x_out of every block: the inputs of the
// LayerNorms and the addends of the residual products) is fp32 in both, as under PyTorch's autocast:
// in bf16 each of its 2 * n_layer + 1 writes would round it to 2^-8 relative, and those roundings
// add up along the whole depth (the bf16 logits' error against a float64 reference was 1.08e-2 of the
// largest logit with a bf16 stream, transformers' autocast 0.81e-2). Products read bf16 operands
// (the LayerNorms' outputs) and the residual products write fp32.
// Gradients of parameters are always fp32 (they feed fp32 master weights): the views acquire_grads
// hands out are F32 on the device; the parameter views are T on the device.
//
// Tokens come from the host (where the data loader put them): forward uploads them and, for a
// training forward, groups positions by token for the embedding's deterministic backward. Every
// kernel is queued on the model's stream; forward returns with the work queued, not finished.
// One instance is one rank's replica; use it from one thread at a time.
#pragma once

#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "gpt_config.hpp"
#include "tandem/compute/bf16.hpp"
#include "tandem/compute/param_access.hpp"
#include "tandem/compute/tensor.hpp"
#include "tandem/cuda/attention.hpp"
#include "tandem/cuda/embedding.hpp"
#include "tandem/cuda/matmul.hpp"
#include "tandem/cuda/runtime.hpp"

namespace tandem::gpt {

template <class T>
class GptCudaModel {
 public:
  GptCudaModel(const GptConfig& cfg, cudaStream_t stream);  // validates cfg

  const GptConfig& config() const noexcept { return cfg_; }
  std::span<const compute::ParamInfo> parameters() const noexcept { return infos_; }
  int layer_count() const noexcept { return cfg_.layer_count(); }
  cudaStream_t stream() const noexcept { return stream_; }

  // host_tokens: B x T_ ids in [0, vocab) on the host. Returns the logits [B, T_, vocab] (type T, on
  // the device, model-owned, valid until the next forward; callers may overwrite them with their
  // gradient and pass that to backward). train keeps the activations for backward.
  compute::TensorView forward(compute::ParamAccess& access, const int32_t* host_tokens, int64_t B, int64_t T_,
                              bool train);
  // dlogits: device [B, T_, vocab] of type T for the last training forward (may be the logits buffer).
  void backward(compute::ParamAccess& access, const T* dlogits);

 private:
  struct Layer;
  Layer layer(int64_t block) const;
  void reserve(int64_t B, int64_t T_, int64_t sets);
  // One layer's views in ParamAccess order, checked against their infos: E on the GPU, the shapes expected.
  template <class E>
  std::vector<E*> checked(const std::vector<compute::TensorView>& views, int layer, const char* what) const;
  std::vector<T*> params(const std::vector<compute::TensorView>& views, int layer) const {
    return checked<T>(views, layer, "parameter");
  }
  std::vector<float*> grads(const std::vector<compute::TensorView>& views, int layer) const {
    return checked<float>(views, layer, "gradient");  // always fp32: they feed the fp32 master weights
  }
  static constexpr bool kFused = std::is_same_v<T, cuda::bf16>;  // epilogues in place of kernels (above)
  void block_forward(const Layer& a, const float* x_in, const std::vector<T*>& p);
  // out [BT, C] = residual + in [BT, k] weight + bias, in fp32; out is distinct from in and residual.
  // slot (0 or 1) picks the fp32 copy of a bf16 bias (bias32_), so the two of a block never share one.
  void residual_product(const T* in, const T* weight, const T* bias, const float* residual, float* out, int64_t k,
                        int slot);
  void block_backward(const Layer& a, const float* x_in, const std::vector<T*>& p, const std::vector<float*>& g);

  // A device buffer that grows on demand (contents not kept).
  template <class E>
  struct Grow {
    cuda::DeviceArray<E> a;
    E* get() const { return a.get(); }
    void reserve(int64_t n) {
      if (static_cast<size_t>(n) > a.size()) a = cuda::DeviceArray<E>(static_cast<size_t>(n));
    }
  };

  GptConfig cfg_;
  std::vector<compute::ParamInfo> infos_;
  std::vector<std::vector<size_t>> layer_params_;
  cudaStream_t stream_;
  cuda::Blas blas_;
  // bf16 attention through cuDNN's fused SDPA where it loads (TANDEM_ATTENTION picks; read here, so
  // a bad value fails the model's creation), tandem's kernels otherwise: tandem/cuda/attention.hpp.
  cuda::Attention attention_;
  cuda::TokenBuckets buckets_;

  int64_t B_ = 0, T_ = 0, sets_ = 0;
  bool have_train_forward_ = false;

  Grow<int32_t> tokens_;
  Grow<T> ln1_, qkv_, atty_, ln2_, fch_, fch_gelu_, lnf_, logits_;
  Grow<float> x_embed_, x_mid_, x_out_;  // the residual stream: fp32 (above)
  Grow<float> ln1_mean_, ln1_rstd_, lse_, ln2_mean_, ln2_rstd_, lnf_mean_, lnf_rstd_;
  // bf16 only: the residual products' biases in fp32, [2, C]. cuBLASLt's bias epilogue takes the
  // bias in the output's type (cublasLt.h, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE), here fp32.
  Grow<float> bias32_;
  Grow<T> dx_, dln_, dqkv_, datty_, dfch_;
};

extern template class GptCudaModel<float>;
extern template class GptCudaModel<cuda::bf16>;

}  // namespace tandem::gpt
