// LayerNorm forward and backward on CPU (contracts: tandem/compute/layernorm.hpp).
// Rows are independent and run in fixed chunks; the weight and bias gradients are summed per chunk
// into partial buffers and the partials combined in chunk order (deterministic for any thread count).
#include "tandem/compute/layernorm.hpp"

#include <cmath>
#include <vector>

#include "parallel.hpp"
#include "simd.hpp"

namespace tandem::compute {
namespace {

template <class T>
TANDEM_INLINE void forward_rows_impl(const T* x, const T* weight, const T* bias, T* out, T* mean, T* rstd,
                                     int64_t r0, int64_t r1, int64_t cols, T eps) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* xr = x + r * cols;
    T* o = out + r * cols;
    T sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < cols; ++c) sum += xr[c];
    const T m = sum / T(cols);
    T var = 0;
#pragma omp simd reduction(+ : var)
    for (int64_t c = 0; c < cols; ++c) var += (xr[c] - m) * (xr[c] - m);
    const T s = T(1) / std::sqrt(var / T(cols) + eps);
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) o[c] = (xr[c] - m) * s * weight[c] + bias[c];
    mean[r] = m;
    rstd[r] = s;
  }
}
TANDEM_SIMD_CLONES void forward_rows(const float* x, const float* w, const float* b, float* out, float* mean,
                                     float* rstd, int64_t r0, int64_t r1, int64_t cols, float eps) {
  forward_rows_impl(x, w, b, out, mean, rstd, r0, r1, cols, eps);
}
TANDEM_SIMD_CLONES void forward_rows(const double* x, const double* w, const double* b, double* out, double* mean,
                                     double* rstd, int64_t r0, int64_t r1, int64_t cols, double eps) {
  forward_rows_impl(x, w, b, out, mean, rstd, r0, r1, cols, eps);
}

// dx += rstd (g - mean(g) - xhat mean(g xhat)), g = dout * weight; dw_part += dout xhat; db_part += dout.
template <class T>
TANDEM_INLINE void backward_rows_impl(const T* dout, const T* x, const T* weight, const T* mean, const T* rstd,
                                      T* dx, T* dw_part, T* db_part, int64_t r0, int64_t r1, int64_t cols) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* xr = x + r * cols;
    const T* dr = dout + r * cols;
    T* dxr = dx + r * cols;
    const T m = mean[r], s = rstd[r];
    T g_sum = 0, gx_sum = 0;
#pragma omp simd reduction(+ : g_sum, gx_sum)
    for (int64_t c = 0; c < cols; ++c) {
      const T g = dr[c] * weight[c];
      g_sum += g;
      gx_sum += g * (xr[c] - m) * s;
    }
    const T g_mean = g_sum / T(cols), gx_mean = gx_sum / T(cols);
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
      const T xhat = (xr[c] - m) * s;
      dxr[c] += s * (dr[c] * weight[c] - g_mean - xhat * gx_mean);
      dw_part[c] += dr[c] * xhat;
      db_part[c] += dr[c];
    }
  }
}
TANDEM_SIMD_CLONES void backward_rows(const float* dout, const float* x, const float* w, const float* mean,
                                      const float* rstd, float* dx, float* dw, float* db, int64_t r0, int64_t r1,
                                      int64_t cols) {
  backward_rows_impl(dout, x, w, mean, rstd, dx, dw, db, r0, r1, cols);
}
TANDEM_SIMD_CLONES void backward_rows(const double* dout, const double* x, const double* w, const double* mean,
                                      const double* rstd, double* dx, double* dw, double* db, int64_t r0,
                                      int64_t r1, int64_t cols) {
  backward_rows_impl(dout, x, w, mean, rstd, dx, dw, db, r0, r1, cols);
}

}  // namespace

template <class T>
void layernorm_forward(const T* x, const T* weight, const T* bias, T* out, T* mean, T* rstd, int64_t rows,
                       int64_t cols, double eps) {
  if (cols <= 0) return;
  detail::for_each_chunk(rows, detail::rows_per_chunk(cols), [&](int64_t, int64_t r0, int64_t r1) {
    forward_rows(x, weight, bias, out, mean, rstd, r0, r1, cols, T(eps));
  });
}

template <class T>
void layernorm_backward(const T* dout, const T* x, const T* weight, const T* mean, const T* rstd, T* dx,
                        T* dweight, T* dbias, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  const int64_t chunk = detail::rows_per_chunk(cols);
  const int64_t chunks = detail::ceil_div(rows, chunk);
  std::vector<T> partial(static_cast<size_t>(chunks * 2 * cols), T(0));  // [chunk][dw | db]
  detail::for_each_chunk(rows, chunk, [&](int64_t i, int64_t r0, int64_t r1) {
    T* p = partial.data() + i * 2 * cols;
    backward_rows(dout, x, weight, mean, rstd, dx, p, p + cols, r0, r1, cols);
  });
  for (int64_t i = 0; i < chunks; ++i) {
    const T* p = partial.data() + i * 2 * cols;
    for (int64_t c = 0; c < cols; ++c) {
      dweight[c] += p[c];
      dbias[c] += p[cols + c];
    }
  }
}

template void layernorm_forward<float>(const float*, const float*, const float*, float*, float*, float*, int64_t,
                                       int64_t, double);
template void layernorm_forward<double>(const double*, const double*, const double*, double*, double*, double*,
                                        int64_t, int64_t, double);
template void layernorm_backward<float>(const float*, const float*, const float*, const float*, const float*,
                                        float*, float*, float*, int64_t, int64_t);
template void layernorm_backward<double>(const double*, const double*, const double*, const double*,
                                         const double*, double*, double*, double*, int64_t, int64_t);

}  // namespace tandem::compute
