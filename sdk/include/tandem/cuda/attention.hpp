// Causal multi-head self-attention on the device, on GPT-2's fused qkv layout: the contract of
// tandem/compute/attention.hpp (qkv [B, T, 3C], y [B, T, C], scores scaled by 1/sqrt(hd), lse
// [B, H, T] the log-sum-exp of each row's scaled scores), T = float or bf16, fp32 arithmetic.
//
// Flash-style (Dao et al. 2022): the forward streams key/value tiles through shared memory with an
// online softmax and never forms the [T, T] scores; the backward recomputes the probabilities from
// q, k and lse. bf16 with head size 32 or 64 (GPT-2's) runs on the tensor cores (attention_tc.cu:
// FlashAttention-2's tiles, mma.sync with fp32 accumulation); fp32, and head size 128, run on the
// CUDA cores, one thread per query (or key) row (attention.cu). Both backwards write dq, dk and dv
// from separate kernels so that no two blocks add into one element: deterministic, no atomics.
//
// bf16 with head size 64 or 128 can also run through cuDNN 9's fused flash attention (its SDPA
// graphs, built with the backend API: cudnn_sdpa.cpp), through an `Attention` object that owns the
// cuDNN handle, the built plans and their workspace, as `Blas` owns cuBLASLt's: one per stream. The
// calls without one always take tandem's kernels.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tandem/cuda/runtime.hpp"

namespace tandem::cuda {

// Which attention a call takes: tandem's kernels, cuDNN's fused SDPA, or (automatic) cuDNN where it
// loads and builds a plan for the call, else tandem's with one line on stderr saying why.
enum class AttentionChoice { automatic, tandem, cudnn };

// TANDEM_ATTENTION: unset or "auto" -> automatic, "tandem", "cudnn". Anything else throws Error
// naming the variable, its value and the values it takes.
AttentionChoice attention_choice_from_environment();

// Empty where cuDNN 9 can be used (tandem built with its headers, libcudnn.so.9 opened); else why
// not. Opens the library (once per process) but creates nothing on the device.
std::string attention_cudnn_unavailable();

// The cuDNN handle, the execution plans built per (B, T, C, n_head, direction) and the workspace
// they run in, for the calls made on one stream (not thread-safe across streams: one per stream).
// Nothing is loaded or built until a bf16 call wants cuDNN.
class Attention {
 public:
  explicit Attention(AttentionChoice choice = attention_choice_from_environment());
  ~Attention();
  Attention(const Attention&) = delete;
  Attention& operator=(const Attention&) = delete;

  AttentionChoice choice() const;
  // "cudnn" or "tandem": the path a bf16 call of this shape takes in each direction (building the
  // plans if it has not yet), with the reason where it is tandem's under the automatic choice. Throws
  // where the choice is cudnn and cuDNN cannot take it (the reason in the message).
  struct Paths {
    std::string forward, backward, why;
  };
  Paths paths(int64_t B, int64_t T_, int64_t C, int64_t n_head);
  // What building the cuDNN plans did, step by step: each call that failed with its status and
  // cuDNN's text, how many engine configs the heuristics returned, which one was taken and its
  // workspace, why others were refused. For diagnosis (tests/cuda/cudnn_sdpa_probe.cpp prints it).
  std::vector<std::string> log() const;

  struct Impl;

 private:
  friend struct AttentionAccess;
  std::unique_ptr<Impl> impl_;
};

template <class T>
void attention_forward(const T* qkv, T* y, float* lse, int64_t B, int64_t T_, int64_t C, int64_t n_head,
                       cudaStream_t stream);

// dy [B, T, C] -> dqkv [B, T, 3C] (overwritten), from the forward's qkv, y and lse. (y enters
// through D_i = dy_i . y_i, the softmax backward's row term, which saves one pass over the keys.)
template <class T>
void attention_backward(const T* dy, const T* qkv, const T* y, const float* lse, T* dqkv, int64_t B, int64_t T_,
                        int64_t C, int64_t n_head, cudaStream_t stream);

// The same contract through `attention`'s choice. fp32 always takes tandem's kernels (an Error under
// the cudnn choice, which cannot be honoured there). Both cuDNN directions keep the contract's lse
// (natural-log log-sum-exp of the scaled scores: cuDNN's softmax Stats are exactly that), so either
// direction may take either path. The cuDNN backward is deterministic (the same inputs give the same
// bits: no atomics in dq), as tandem's is.
template <class T>
void attention_forward(Attention& attention, const T* qkv, T* y, float* lse, int64_t B, int64_t T_, int64_t C,
                       int64_t n_head, cudaStream_t stream);
template <class T>
void attention_backward(Attention& attention, const T* dy, const T* qkv, const T* y, const float* lse, T* dqkv,
                        int64_t B, int64_t T_, int64_t C, int64_t n_head, cudaStream_t stream);

}  // namespace tandem::cuda
