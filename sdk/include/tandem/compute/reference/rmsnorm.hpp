// Reference RMSNorm: plain loops; same contracts as tandem/compute/rmsnorm.hpp.
#pragma once

#include <cmath>
#include <cstdint>

#include "tandem/compute/rmsnorm.hpp"

namespace tandem::compute::ref {

template <class T>
void rmsnorm_forward(const T* x, const T* weight, T* out, T* rstd, int64_t rows, int64_t cols,
                     double eps = kRmsNormEps) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T ss = 0;
    for (int64_t c = 0; c < cols; ++c) ss += xr[c] * xr[c];
    const T s = T(1) / std::sqrt(ss / T(cols) + T(eps));
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = weight[c] * (xr[c] * s);
    rstd[r] = s;
  }
}

template <class T>
void rmsnorm_backward(const T* dout, const T* x, const T* weight, const T* rstd, T* dx, T* dweight, int64_t rows,
                      int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    const T* dr = dout + r * cols;
    T gx_mean = 0;
    for (int64_t c = 0; c < cols; ++c) gx_mean += dr[c] * weight[c] * xr[c] * rstd[r];
    gx_mean /= T(cols);
    for (int64_t c = 0; c < cols; ++c) {
      const T xhat = xr[c] * rstd[r];
      dx[r * cols + c] += rstd[r] * (dr[c] * weight[c] - xhat * gx_mean);
      dweight[c] += dr[c] * xhat;
    }
  }
}

}  // namespace tandem::compute::ref
