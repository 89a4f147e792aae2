// Reference RoPE: the rotation written as Hugging Face writes it, q * cos + rotate_half(q) * sin,
// with cos and sin of the full head width (cat(freqs, freqs)); same contracts as
// tandem/compute/rope.hpp. The backward is the same formula with -sin.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "tandem/compute/rope.hpp"

namespace tandem::compute::ref {

template <class T>
void rope_table(int64_t positions, int64_t head_dim, double theta, T* cos, T* sin) {
  const int64_t half = head_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    const float inv_freq = 1.0f / std::pow(static_cast<float>(theta), exponent);
    for (int64_t t = 0; t < positions; ++t) {
      const float angle = static_cast<float>(t) * inv_freq;
      cos[t * half + i] = static_cast<T>(static_cast<float>(std::cos(static_cast<double>(angle))));
      sin[t * half + i] = static_cast<T>(static_cast<float>(std::sin(static_cast<double>(angle))));
    }
  }
}

namespace detail {
// x <- x * cos + rotate_half(x) * (sign * sin), rotate_half(x) = cat(-x[d/2:], x[:d/2]).
template <class T>
void rotate(T* x, const T* cos, const T* sin, int64_t B, int64_t T_, int64_t n_head, int64_t head_dim, T sign) {
  const int64_t half = head_dim / 2;
  std::vector<T> rotated(static_cast<size_t>(head_dim));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T_; ++t)
      for (int64_t h = 0; h < n_head; ++h) {
        T* v = x + ((b * T_ + t) * n_head + h) * head_dim;
        for (int64_t j = 0; j < head_dim; ++j) {
          const T c = cos[t * half + j % half], s = sign * sin[t * half + j % half];
          const T other = j < half ? -v[j + half] : v[j - half];
          rotated[static_cast<size_t>(j)] = v[j] * c + other * s;
        }
        for (int64_t j = 0; j < head_dim; ++j) v[j] = rotated[static_cast<size_t>(j)];
      }
}
}  // namespace detail

template <class T>
void rope_forward(T* x, const T* cos, const T* sin, int64_t B, int64_t T_, int64_t n_head, int64_t head_dim) {
  detail::rotate(x, cos, sin, B, T_, n_head, head_dim, T(1));
}

template <class T>
void rope_backward(T* grad, const T* cos, const T* sin, int64_t B, int64_t T_, int64_t n_head, int64_t head_dim) {
  detail::rotate(grad, cos, sin, B, T_, n_head, head_dim, T(-1));
}

}  // namespace tandem::compute::ref
