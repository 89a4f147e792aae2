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
#pragma once

#include <cstdint>

#include "tandem/cuda/runtime.hpp"

namespace tandem::cuda {

template <class T>
void attention_forward(const T* qkv, T* y, float* lse, int64_t B, int64_t T_, int64_t C, int64_t n_head,
                       cudaStream_t stream);

// dy [B, T, C] -> dqkv [B, T, 3C] (overwritten), from the forward's qkv, y and lse. (y enters
// through D_i = dy_i . y_i, the softmax backward's row term, which saves one pass over the keys.)
template <class T>
void attention_backward(const T* dy, const T* qkv, const T* y, const float* lse, T* dqkv, int64_t B, int64_t T_,
                        int64_t C, int64_t n_head, cudaStream_t stream);

}  // namespace tandem::cuda
