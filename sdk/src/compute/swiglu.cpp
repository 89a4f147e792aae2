// SwiGLU forward and backward on CPU in fixed chunks (contracts: tandem/compute/swiglu.hpp).
#include "tandem/compute/swiglu.hpp"

#include <cmath>

#include "parallel.hpp"
#include "simd.hpp"

namespace tandem::compute {
namespace {

constexpr int64_t kChunk = 16384;

// sigmoid(x) = 1 / (1 + exp(-x)); for x very negative exp(-x) overflows to +inf and the sigmoid
// is 0, as it should be (torch's silu does the same).
template <class T>
TANDEM_INLINE T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <class T>
TANDEM_INLINE void forward_impl(const T* __restrict__ gate, const T* __restrict__ up, T* __restrict__ h, int64_t n) {
  for (int64_t i = 0; i < n; ++i) h[i] = gate[i] * sigmoid(gate[i]) * up[i];  // (silu(gate)) * up, HF's order
}
TANDEM_SIMD_CLONES void forward_chunk(const float* g, const float* u, float* h, int64_t n) { forward_impl(g, u, h, n); }
TANDEM_SIMD_CLONES void forward_chunk(const double* g, const double* u, double* h, int64_t n) {
  forward_impl(g, u, h, n);
}

template <class T>
TANDEM_INLINE void backward_impl(const T* __restrict__ gate, const T* __restrict__ up, const T* __restrict__ dh,
                                 T* __restrict__ dgate, T* __restrict__ dup, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T s = sigmoid(gate[i]);
    dup[i] = dh[i] * gate[i] * s;
    dgate[i] = dh[i] * up[i] * s * (T(1) + gate[i] * (T(1) - s));
  }
}
TANDEM_SIMD_CLONES void backward_chunk(const float* g, const float* u, const float* dh, float* dg, float* du,
                                       int64_t n) {
  backward_impl(g, u, dh, dg, du, n);
}
TANDEM_SIMD_CLONES void backward_chunk(const double* g, const double* u, const double* dh, double* dg, double* du,
                                       int64_t n) {
  backward_impl(g, u, dh, dg, du, n);
}

}  // namespace

template <class T>
void swiglu_forward(const T* gate, const T* up, T* h, int64_t n) {
  detail::for_each_chunk(n, kChunk, [&](int64_t, int64_t b, int64_t e) { forward_chunk(gate + b, up + b, h + b, e - b); });
}

template <class T>
void swiglu_backward(const T* gate, const T* up, const T* dh, T* dgate, T* dup, int64_t n) {
  detail::for_each_chunk(n, kChunk, [&](int64_t, int64_t b, int64_t e) {
    backward_chunk(gate + b, up + b, dh + b, dgate + b, dup + b, e - b);
  });
}

template void swiglu_forward<float>(const float*, const float*, float*, int64_t);
template void swiglu_forward<double>(const double*, const double*, double*, int64_t);
template void swiglu_backward<float>(const float*, const float*, const float*, float*, float*, int64_t);
template void swiglu_backward<double>(const double*, const double*, const double*, double*, double*, int64_t);

}  // namespace tandem::compute
