// A Llama-family decoder (Llama, Qwen2) forward and backward, kernel by kernel on the compute core,
// with the semantics of transformers' modeling_llama.py / modeling_qwen2.py:
//
//   x0 = embed_tokens[tokens]                                             layer 0
//   per decoder layer i (layer 1 + i), pre-norm:
//     h = input_layernorm(x)                                              RMSNorm
//     q, k, v = q_proj(h), k_proj(h), v_proj(h)                           [.., H*hd], [.., KV*hd] x 2
//     q, k = rope(q), rope(k)                                             rotate-half, rope_theta
//     x = x + o_proj(causal_attention(q, repeat_kv(k), repeat_kv(v)))     scale 1/sqrt(hd)
//     x = x + down_proj(silu(gate_proj(post_attention_layernorm(x))) * up_proj(...))
//   logits = norm(x) lm_head^T  (embed_tokens^T when tie_word_embeddings) layer L + 1
//
// Like GptModel (modules/model/gpt/gpt_model.hpp), it owns no parameters: each layer's parameters
// and gradient buffers come from a ParamAccess just before use, in this order:
//   forward:  acquire(0) [embed] (release(0) now when untied) ... acquire(l) release(l) ...
//             acquire(L+1) [norm, head] release(L+1) (release(0) here when tied)
//   backward: (tied: acquire(0) acquire_grads(0) first) acquire(L+1) acquire_grads(L+1)
//             grads_done(L+1) release(L+1), then l = L..1: acquire(l) acquire_grads(l) grads_done(l)
//             release(l), then (untied: acquire(0) acquire_grads(0)) [embedding] grads_done(0) release(0)
// A tied embedding is held for the whole pass (its gradient gets the head's part first and the
// embedding's last); an untied one only when the embedding is computed. Gradients are added (+=).
//
// One instance is one rank's replica; use it from one thread at a time. T is float (training) or
// double (finite-difference checks).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "llama_config.hpp"
#include "llama_params.hpp"
#include "tandem/compute/param_access.hpp"
#include "tandem/compute/tensor.hpp"

namespace tandem::llama {

template <class T>
class LlamaModel {
 public:
  explicit LlamaModel(const LlamaConfig& cfg);  // validates cfg

  const LlamaConfig& config() const noexcept { return cfg_; }
  std::span<const compute::ParamInfo> parameters() const noexcept { return infos_; }
  int layer_count() const noexcept { return cfg_.layer_count(); }

  // tokens: B x T_ ids in [0, vocab), 1 <= T_ <= max_position_embeddings. Returns the logits
  // [B, T_, vocab], model-owned, valid until the next forward. train keeps the activations for
  // backward; without it one layer's worth of buffers is reused throughout.
  compute::TensorView forward(compute::ParamAccess& access, const int32_t* tokens, int64_t B, int64_t T_, bool train);
  compute::TensorView forward(compute::ParamAccess& access, const compute::TensorView& tokens, bool train);

  // dlogits: [B, T_, vocab] of the last training forward. Adds the gradients into acquire_grads()'s buffers.
  void backward(compute::ParamAccess& access, const T* dlogits);
  void backward(compute::ParamAccess& access, const compute::TensorView& dlogits);

 private:
  struct Layer;  // pointers into the activation buffers of one decoder layer
  Layer layer(int64_t block) const;
  void reserve(int64_t B, int64_t T_, int64_t sets);
  std::vector<T*> checked(const std::vector<compute::TensorView>& views, int layer, const char* what) const;
  void block_forward(const Layer& a, const T* x_in, const std::vector<T*>& p);
  void block_backward(const Layer& a, const T* x_in, const std::vector<T*>& p, const std::vector<T*>& g);
  void head_forward(const T* x, const std::vector<T*>& fin, const T* head);
  void head_backward(const T* dlogits, const std::vector<T*>& fin, const std::vector<T*>& dfin, const T* head,
                     T* dhead);

  LlamaConfig cfg_;
  BlockSlots slots_;
  std::vector<compute::ParamInfo> infos_;
  std::vector<std::vector<size_t>> layer_params_;  // indices into infos_, per layer

  int64_t B_ = 0, T_ = 0, sets_ = 0;
  bool have_train_forward_ = false;
  std::vector<int32_t> tokens_;
  compute::Buffer<T> cos_, sin_;  // the RoPE table of the last forward's T_ positions

  // Activations: per decoder layer ("set") in training, one set reused in inference.
  compute::Buffer<T> n1_, rstd1_, qkv_, atty_, lse_, x_mid_, n2_, rstd2_, gate_, up_, act_, x_out_;
  compute::Buffer<T> x_embed_, nf_, rstdf_, logits_;
  // Scratch: q, k, v before packing (forward); the residual stream's and per-op gradients (backward).
  compute::Buffer<T> q_, k_, v_, dx_, dn_, dqkv_, dq_, dk_, dv_, datty_, dgate_, dup_, dact_;
};

extern template class LlamaModel<float>;
extern template class LlamaModel<double>;

}  // namespace tandem::llama
