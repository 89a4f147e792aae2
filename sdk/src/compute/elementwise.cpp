// Elementwise kernels on CPU in fixed chunks (contracts: tandem/compute/elementwise.hpp).
#include "tandem/compute/elementwise.hpp"

#include <vector>

#include "parallel.hpp"
#include "simd.hpp"

namespace tandem::compute {
namespace {

constexpr int64_t kChunk = 32768;

template <class T>
TANDEM_INLINE void add_impl(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}
TANDEM_SIMD_CLONES void add_chunk(const float* a, const float* b, float* o, int64_t n) { add_impl(a, b, o, n); }
TANDEM_SIMD_CLONES void add_chunk(const double* a, const double* b, double* o, int64_t n) { add_impl(a, b, o, n); }

template <class T>
TANDEM_INLINE void accumulate_impl(T* __restrict__ acc, const T* __restrict__ x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
}
TANDEM_SIMD_CLONES void accumulate_chunk(float* acc, const float* x, int64_t n) { accumulate_impl(acc, x, n); }
TANDEM_SIMD_CLONES void accumulate_chunk(double* acc, const double* x, int64_t n) { accumulate_impl(acc, x, n); }

template <class T>
TANDEM_INLINE void scale_impl(T* __restrict__ x, T s, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}
TANDEM_SIMD_CLONES void scale_chunk(float* x, float s, int64_t n) { scale_impl(x, s, n); }
TANDEM_SIMD_CLONES void scale_chunk(double* x, double s, int64_t n) { scale_impl(x, s, n); }

template <class T>
TANDEM_INLINE double sum_sq_impl(const T* x, int64_t n) {
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return sum;
}
TANDEM_SIMD_CLONES double sum_sq_chunk(const float* x, int64_t n) { return sum_sq_impl(x, n); }
TANDEM_SIMD_CLONES double sum_sq_chunk(const double* x, int64_t n) { return sum_sq_impl(x, n); }

}  // namespace

template <class T>
void add(const T* a, const T* b, T* out, int64_t n) {
  detail::for_each_chunk(n, kChunk, [&](int64_t, int64_t s, int64_t e) { add_chunk(a + s, b + s, out + s, e - s); });
}

template <class T>
void accumulate(T* acc, const T* x, int64_t n) {
  detail::for_each_chunk(n, kChunk, [&](int64_t, int64_t s, int64_t e) { accumulate_chunk(acc + s, x + s, e - s); });
}

template <class T>
void scale(T* x, T s, int64_t n) {
  detail::for_each_chunk(n, kChunk, [&](int64_t, int64_t b, int64_t e) { scale_chunk(x + b, s, e - b); });
}

template <class T>
double sum_of_squares(const T* x, int64_t n) {
  if (n <= 0) return 0.0;
  std::vector<double> partial(static_cast<size_t>(detail::ceil_div(n, kChunk)), 0.0);
  detail::for_each_chunk(n, kChunk, [&](int64_t i, int64_t s, int64_t e) { partial[static_cast<size_t>(i)] = sum_sq_chunk(x + s, e - s); });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

#define TANDEM_INSTANTIATE(T)                                     \
  template void add<T>(const T*, const T*, T*, int64_t);         \
  template void accumulate<T>(T*, const T*, int64_t);            \
  template void scale<T>(T*, T, int64_t);                        \
  template double sum_of_squares<T>(const T*, int64_t);
TANDEM_INSTANTIATE(float)
TANDEM_INSTANTIATE(double)
#undef TANDEM_INSTANTIATE

}  // namespace tandem::compute
