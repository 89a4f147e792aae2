// RMSNorm over the last dimension (Zhang & Sennrich 2019), as Llama's and Qwen2's LlamaRMSNorm:
//   out = weight * x * rstd,  rstd = 1 / sqrt(mean(x^2) + eps)
// No mean is subtracted and there is no bias. The statistic is computed in T (float or double);
// Hugging Face computes it in fp32 for any input dtype, which is what T = float does.
#pragma once

#include <cstdint>

namespace tandem::compute {

inline constexpr double kRmsNormEps = 1e-6;  // LlamaConfig's rms_norm_eps default

// x, out: [rows, cols]; weight: [cols]; rstd: [rows], written for the backward. out may not overlap x.
template <class T>
void rmsnorm_forward(const T* x, const T* weight, T* out, T* rstd, int64_t rows, int64_t cols,
                     double eps = kRmsNormEps);

// Given dout [rows, cols] and the forward's x and rstd:
//   dx += rstd * (g - xhat * mean(g * xhat)),  g = dout * weight, xhat = x * rstd
//   dweight += sum over rows of dout * xhat
// (both accumulate: dx is usually the residual stream's running gradient).
template <class T>
void rmsnorm_backward(const T* dout, const T* x, const T* weight, const T* rstd, T* dx, T* dweight, int64_t rows,
                      int64_t cols);

}  // namespace tandem::compute
