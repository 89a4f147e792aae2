// LayerNorm over the last dimension on the device; the contract of tandem/compute/layernorm.hpp,
// with T = float or bf16 for activations and parameters and fp32 for everything statistical: mean
// and rstd are fp32 [rows], computed in fp32 with a two-pass mean/variance (the row's re-reads hit
// the cache), and the parameter gradients accumulate in fp32 (they feed fp32 master weights).
#pragma once

#include <cstdint>

#include "tandem/cuda/runtime.hpp"

namespace tandem::cuda {

// x, out: [rows, cols]; weight, bias: [cols]; mean, rstd: [rows]. One warp per row. X is x's type:
// T, or float with T = bf16 (a bf16 model's fp32 residual stream, normalised into the bf16 input of
// the next product).
template <class X, class T>
void layernorm_forward(const X* x, const T* weight, const T* bias, T* out, float* mean, float* rstd, int64_t rows,
                       int64_t cols, cudaStream_t stream, float eps = 1e-5f);

// dx += ..., dweight += ..., dbias += ... (all accumulate, as on the CPU). dx is computed one warp
// per row; dweight and dbias are reduced over rows in a fixed order (per-chunk partial sums in a
// stream-ordered scratch buffer, then one pass over the chunks), so results are deterministic.
// x (type X, as in the forward) is the forward's input; dout and dx are T.
template <class X, class T>
void layernorm_backward(const T* dout, const X* x, const T* weight, const float* mean, const float* rstd, T* dx,
                        float* dweight, float* dbias, int64_t rows, int64_t cols, cudaStream_t stream);

}  // namespace tandem::cuda
