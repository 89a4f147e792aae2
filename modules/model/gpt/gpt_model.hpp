// GPT-2's forward and backward, written out kernel by kernel (compute core: tandem/compute/*).
//
//   x0 = wte[tokens] + wpe[0..T)                                       layer 0
//   per block i (layer 1 + i), pre-LayerNorm:
//     x = x + c_proj(attention(c_attn(ln_1(x))))
//     x = x + mlp.c_proj(gelu_tanh(mlp.c_fc(ln_2(x))))
//   logits = ln_f(x) wte^T                                             layer n_layer + 1, tied head
//
// The model owns no parameters: it takes each layer's parameters (and, in backward, its gradient
// buffers) from a ParamAccess just before use, in this order:
//   forward:  acquire(0) ... acquire(1) release(1) ... acquire(L+1) [head uses wte of layer 0]
//             release(L+1) release(0)
//   backward: acquire(0) acquire_grads(0) acquire(L+1) acquire_grads(L+1) [head, ln_f]
//             grads_done(L+1) release(L+1), then for l = L..1: acquire(l) acquire_grads(l)
//             grads_done(l) release(l), then [embeddings] grads_done(0) release(0)
// Layer 0 stays acquired for the whole of each pass because the head reuses wte; wte's gradient
// gets the head's part first and the embedding's part last, both added into the same buffer
// before grads_done(0). Gradients are accumulated (+=), never overwritten.
//
// One instance is one rank's replica: it owns activations (those of the last training forward,
// kept for backward), scratch and the logits. Use it from one thread at a time; its kernels run in
// parallel on oneTBB. T is float (training) or double (finite-difference checks).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "gpt_config.hpp"
#include "gpt_params.hpp"
#include "tandem/compute/param_access.hpp"
#include "tandem/compute/tensor.hpp"

namespace tandem::gpt {

template <class T>
class GptModel {
 public:
  explicit GptModel(const GptConfig& cfg);  // validates cfg

  const GptConfig& config() const noexcept { return cfg_; }
  std::span<const compute::ParamInfo> parameters() const noexcept { return infos_; }
  int layer_count() const noexcept { return cfg_.layer_count(); }

  // tokens: B x T_ ids in [0, vocab), row-major, 1 <= T_ <= block_size. Returns the logits
  // [B, T_, vocab], model-owned, valid until the next forward. train keeps the activations for
  // backward; without it (a teacher's forward) one layer's worth of buffers is reused throughout.
  compute::TensorView forward(compute::ParamAccess& access, const int32_t* tokens, int64_t B, int64_t T_, bool train);
  compute::TensorView forward(compute::ParamAccess& access, const compute::TensorView& tokens, bool train);

  // dlogits: [B, T_, vocab] of the last training forward. Adds the parameters' gradients into the
  // buffers acquire_grads() hands out.
  void backward(compute::ParamAccess& access, const T* dlogits);
  void backward(compute::ParamAccess& access, const compute::TensorView& dlogits);

 private:
  struct Layer;  // pointers into the activation buffers for one block
  Layer layer(int64_t block) const;
  void reserve(int64_t B, int64_t T_, int64_t sets);
  std::vector<T*> checked(const std::vector<compute::TensorView>& views, int layer, const char* what) const;
  void block_forward(const Layer& a, const T* x_in, const std::vector<T*>& p);
  void block_backward(const Layer& a, const T* x_in, const std::vector<T*>& p, const std::vector<T*>& g);

  GptConfig cfg_;
  std::vector<compute::ParamInfo> infos_;
  std::vector<std::vector<size_t>> layer_params_;  // indices into infos_, per layer

  // Shape of the last forward and whether it kept its activations.
  int64_t B_ = 0, T_ = 0, sets_ = 0;
  bool have_train_forward_ = false;
  std::vector<int32_t> tokens_;

  // Activations, per block ("set") in training, one set reused in inference.
  compute::Buffer<T> ln1_, ln1_mean_, ln1_rstd_, qkv_, atty_, lse_, x_mid_, ln2_, ln2_mean_, ln2_rstd_, fch_,
      fch_gelu_, x_out_;
  compute::Buffer<T> x_embed_, lnf_, lnf_mean_, lnf_rstd_, logits_;
  // Backward scratch: the residual stream's gradient and per-op gradients.
  compute::Buffer<T> dx_, dln_, dqkv_, datty_, dfch_;
};

extern template class GptModel<float>;
extern template class GptModel<double>;

}  // namespace tandem::gpt
