// RMSNorm forward and backward on CPU (contracts: tandem/compute/rmsnorm.hpp). Rows run in fixed
// chunks; the weight gradient is summed per chunk into partial buffers combined in chunk order, so
// the result is the same for any thread count (as layernorm.cpp).
#include "tandem/compute/rmsnorm.hpp"

#include <cmath>
#include <vector>

#include "parallel.hpp"
#include "simd.hpp"

namespace tandem::compute {
namespace {

template <class T>
TANDEM_INLINE void forward_rows_impl(const T* x, const T* weight, T* out, T* rstd, int64_t r0, int64_t r1,
                                     int64_t cols, T eps) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* xr = x + r * cols;
    T* o = out + r * cols;
    T ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int64_t c = 0; c < cols; ++c) ss += xr[c] * xr[c];
    const T s = T(1) / std::sqrt(ss / T(cols) + eps);
    // weight * (x * rstd), in Hugging Face's order: the normalised value is rounded first.
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) o[c] = weight[c] * (xr[c] * s);
    rstd[r] = s;
  }
}
TANDEM_SIMD_CLONES void forward_rows(const float* x, const float* w, float* out, float* rstd, int64_t r0, int64_t r1,
                                     int64_t cols, float eps) {
  forward_rows_impl(x, w, out, rstd, r0, r1, cols, eps);
}
TANDEM_SIMD_CLONES void forward_rows(const double* x, const double* w, double* out, double* rstd, int64_t r0,
                                     int64_t r1, int64_t cols, double eps) {
  forward_rows_impl(x, w, out, rstd, r0, r1, cols, eps);
}

template <class T>
TANDEM_INLINE void backward_rows_impl(const T* dout, const T* x, const T* weight, const T* rstd, T* dx, T* dw_part,
                                      int64_t r0, int64_t r1, int64_t cols) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* xr = x + r * cols;
    const T* dr = dout + r * cols;
    T* dxr = dx + r * cols;
    const T s = rstd[r];
    T gx_sum = 0;
#pragma omp simd reduction(+ : gx_sum)
    for (int64_t c = 0; c < cols; ++c) gx_sum += dr[c] * weight[c] * xr[c] * s;
    const T gx_mean = gx_sum / T(cols);
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
      const T xhat = xr[c] * s;
      dxr[c] += s * (dr[c] * weight[c] - xhat * gx_mean);
      dw_part[c] += dr[c] * xhat;
    }
  }
}
TANDEM_SIMD_CLONES void backward_rows(const float* dout, const float* x, const float* w, const float* rstd, float* dx,
                                      float* dw, int64_t r0, int64_t r1, int64_t cols) {
  backward_rows_impl(dout, x, w, rstd, dx, dw, r0, r1, cols);
}
TANDEM_SIMD_CLONES void backward_rows(const double* dout, const double* x, const double* w, const double* rstd,
                                      double* dx, double* dw, int64_t r0, int64_t r1, int64_t cols) {
  backward_rows_impl(dout, x, w, rstd, dx, dw, r0, r1, cols);
}

}  // namespace

template <class T>
void rmsnorm_forward(const T* x, const T* weight, T* out, T* rstd, int64_t rows, int64_t cols, double eps) {
  if (cols <= 0) return;
  detail::for_each_chunk(rows, detail::rows_per_chunk(cols), [&](int64_t, int64_t r0, int64_t r1) {
    forward_rows(x, weight, out, rstd, r0, r1, cols, T(eps));
  });
}

template <class T>
void rmsnorm_backward(const T* dout, const T* x, const T* weight, const T* rstd, T* dx, T* dweight, int64_t rows,
                      int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  const int64_t chunk = detail::rows_per_chunk(cols);
  const int64_t chunks = detail::ceil_div(rows, chunk);
  std::vector<T> partial(static_cast<size_t>(chunks * cols), T(0));  // [chunk][dw]
  detail::for_each_chunk(rows, chunk, [&](int64_t i, int64_t r0, int64_t r1) {
    backward_rows(dout, x, weight, rstd, dx, partial.data() + i * cols, r0, r1, cols);
  });
  for (int64_t i = 0; i < chunks; ++i)
    for (int64_t c = 0; c < cols; ++c) dweight[c] += partial[static_cast<size_t>(i * cols + c)];
}

template void rmsnorm_forward<float>(const float*, const float*, float*, float*, int64_t, int64_t, double);
template void rmsnorm_forward<double>(const double*, const double*, double*, double*, int64_t, int64_t, double);
template void rmsnorm_backward<float>(const float*, const float*, const float*, const float*, float*, float*, int64_t,
                                      int64_t);
template void rmsnorm_backward<double>(const double*, const double*, const double*, const double*, double*, double*,
                                       int64_t, int64_t);

}  // namespace tandem::compute
