// RoPE on CPU (contracts: tandem/compute/rope.hpp): each (token, head) vector is rotated half
// against half, tokens in fixed chunks.
#include "tandem/compute/rope.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "parallel.hpp"
#include "simd.hpp"

namespace tandem::compute {
namespace {

// One head vector: (a, b) <- (a c - b s, b c + a s) for the halves a = v[:d/2], b = v[d/2:];
// sign = -1 rotates back (the backward).
template <class T>
TANDEM_INLINE void rotate_impl(T* __restrict__ v, const T* __restrict__ c, const T* __restrict__ s, int64_t half,
                               T sign) {
  T* a = v;
  T* b = v + half;
#pragma omp simd
  for (int64_t j = 0; j < half; ++j) {
    const T x = a[j], y = b[j], sj = sign * s[j];
    a[j] = x * c[j] - y * sj;
    b[j] = y * c[j] + x * sj;
  }
}
TANDEM_SIMD_CLONES void rotate(float* v, const float* c, const float* s, int64_t half, float sign) {
  rotate_impl(v, c, s, half, sign);
}
TANDEM_SIMD_CLONES void rotate(double* v, const double* c, const double* s, int64_t half, double sign) {
  rotate_impl(v, c, s, half, sign);
}

void require_even(int64_t head_dim) {
  if (head_dim <= 0 || head_dim % 2 != 0)
    throw std::invalid_argument("rope: head_dim must be even and positive, got " + std::to_string(head_dim));
}

template <class T>
void rotate_all(T* x, const T* cos, const T* sin, int64_t B, int64_t T_, int64_t n_head, int64_t head_dim, T sign) {
  require_even(head_dim);
  const int64_t half = head_dim / 2, rows = B * T_;
  detail::for_each_chunk(rows, detail::rows_per_chunk(n_head * head_dim), [&](int64_t, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t t = r % T_;
      for (int64_t h = 0; h < n_head; ++h) rotate(x + (r * n_head + h) * head_dim, cos + t * half, sin + t * half, half, sign);
    }
  });
}

}  // namespace

template <class T>
void rope_table(int64_t positions, int64_t head_dim, double theta, T* cos, T* sin) {
  require_even(head_dim);
  const int64_t half = head_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    // transformers: inv_freq = 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all in float32.
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    const float inv_freq = 1.0f / std::pow(static_cast<float>(theta), exponent);
    for (int64_t t = 0; t < positions; ++t) {
      const float angle = static_cast<float>(t) * inv_freq;  // freqs = inv_freq @ position_ids, float32
      cos[t * half + i] = static_cast<T>(static_cast<float>(std::cos(static_cast<double>(angle))));
      sin[t * half + i] = static_cast<T>(static_cast<float>(std::sin(static_cast<double>(angle))));
    }
  }
}

template <class T>
void rope_forward(T* x, const T* cos, const T* sin, int64_t B, int64_t T_, int64_t n_head, int64_t head_dim) {
  rotate_all(x, cos, sin, B, T_, n_head, head_dim, T(1));
}

template <class T>
void rope_backward(T* grad, const T* cos, const T* sin, int64_t B, int64_t T_, int64_t n_head, int64_t head_dim) {
  rotate_all(grad, cos, sin, B, T_, n_head, head_dim, T(-1));
}

template void rope_table<float>(int64_t, int64_t, double, float*, float*);
template void rope_table<double>(int64_t, int64_t, double, double*, double*);
template void rope_forward<float>(float*, const float*, const float*, int64_t, int64_t, int64_t, int64_t);
template void rope_forward<double>(double*, const double*, const double*, int64_t, int64_t, int64_t, int64_t);
template void rope_backward<float>(float*, const float*, const float*, int64_t, int64_t, int64_t, int64_t);
template void rope_backward<double>(double*, const double*, const double*, int64_t, int64_t, int64_t, int64_t);

}  // namespace tandem::compute
