// GELU (tanh approximation) forward and backward on CPU, in fixed chunks (contracts: tandem/compute/gelu.hpp).
#include "tandem/compute/gelu.hpp"

#include "fast_math.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace tandem::compute {
namespace {

constexpr int64_t kChunk = 16384;
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kCubic = 0.044715;

// With e = exp(2u) and sig = e / (1 + e) (the logistic function of 2u):
//   1 + tanh(u) = 2 sig,   1 - tanh(u)^2 = 4 sig (1 - sig),   1 - sig = 1 / (1 + e)
// so gelu(x) = x sig and gelu'(x) = sig + 2 x k (1 + 3 a x^2) sig (1 - sig), with no 1 + tanh
// cancellation for negative x (where tanh is near -1 and float would lose most digits).
// 2u is clamped so 1 / (1 + e) stays a normal number (float: e^80; double: e^700).
template <class T>
TANDEM_INLINE void logistic_parts(T two_u, T& sig, T& one_minus_sig) {
  const T limit = sizeof(T) == 4 ? T(80) : T(700);
  const T e = detail::exp_fast(two_u < limit ? two_u : limit);
  one_minus_sig = T(1) / (T(1) + e);
  sig = e * one_minus_sig;
}

template <class T>
TANDEM_INLINE void forward_impl(const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  const T k = T(kSqrt2OverPi), a = T(kCubic);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i];
    T sig, one_minus_sig;
    logistic_parts(T(2) * k * (v + a * v * v * v), sig, one_minus_sig);
    y[i] = v * sig;
  }
}
TANDEM_SIMD_CLONES void forward_chunk(const float* x, float* y, int64_t n) { forward_impl(x, y, n); }
TANDEM_SIMD_CLONES void forward_chunk(const double* x, double* y, int64_t n) { forward_impl(x, y, n); }

template <class T>
TANDEM_INLINE void backward_impl(const T* __restrict__ x, T* __restrict__ grad, int64_t n) {
  const T k = T(kSqrt2OverPi), a = T(kCubic);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i];
    T sig, one_minus_sig;
    logistic_parts(T(2) * k * (v + a * v * v * v), sig, one_minus_sig);
    grad[i] *= sig + T(2) * v * k * (T(1) + T(3) * a * v * v) * sig * one_minus_sig;
  }
}
TANDEM_SIMD_CLONES void backward_chunk(const float* x, float* g, int64_t n) { backward_impl(x, g, n); }
TANDEM_SIMD_CLONES void backward_chunk(const double* x, double* g, int64_t n) { backward_impl(x, g, n); }

}  // namespace

template <class T>
void gelu_forward(const T* x, T* y, int64_t n) {
  detail::for_each_chunk(n, kChunk, [&](int64_t, int64_t b, int64_t e) { forward_chunk(x + b, y + b, e - b); });
}

template <class T>
void gelu_backward(const T* x, T* grad, int64_t n) {
  detail::for_each_chunk(n, kChunk, [&](int64_t, int64_t b, int64_t e) { backward_chunk(x + b, grad + b, e - b); });
}

template void gelu_forward<float>(const float*, float*, int64_t);
template void gelu_forward<double>(const double*, double*, int64_t);
template void gelu_backward<float>(const float*, float*, int64_t);
template void gelu_backward<double>(const double*, double*, int64_t);

}  // namespace tandem::compute
