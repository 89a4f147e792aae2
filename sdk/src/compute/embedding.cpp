// Token + position embedding forward and backward on CPU (contracts: tandem/compute/embedding.hpp).
// The backward scatters into dwte, where two positions with the same token would race; instead of
// atomics or locks, each task owns a slice of the channels and walks all positions in order, so
// every gradient element has one writer and a fixed summation order.
#include "tandem/compute/embedding.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "parallel.hpp"
#include "simd.hpp"

namespace tandem::compute {
namespace {

template <class T>
TANDEM_INLINE void forward_rows_impl(const int32_t* tokens, const T* wte, const T* wpe, T* out, int64_t r0,
                                     int64_t r1, int64_t T_, int64_t C) {
  for (int64_t bt = r0; bt < r1; ++bt) {
    const T* e = wte + static_cast<int64_t>(tokens[bt]) * C;
    const T* p = wpe + (bt % T_) * C;
    T* o = out + bt * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) o[c] = e[c] + p[c];
  }
}
TANDEM_SIMD_CLONES void forward_rows(const int32_t* tok, const float* wte, const float* wpe, float* out, int64_t r0,
                                     int64_t r1, int64_t T_, int64_t C) {
  forward_rows_impl(tok, wte, wpe, out, r0, r1, T_, C);
}
TANDEM_SIMD_CLONES void forward_rows(const int32_t* tok, const double* wte, const double* wpe, double* out,
                                     int64_t r0, int64_t r1, int64_t T_, int64_t C) {
  forward_rows_impl(tok, wte, wpe, out, r0, r1, T_, C);
}

template <class T>
TANDEM_INLINE void backward_channels_impl(const int32_t* tokens, const T* dout, T* dwte, T* dwpe, int64_t BT,
                                          int64_t T_, int64_t C, int64_t c0, int64_t c1) {
  const int64_t width = c1 - c0;
  for (int64_t bt = 0; bt < BT; ++bt) {
    const T* d = dout + bt * C + c0;
    T* e = dwte + static_cast<int64_t>(tokens[bt]) * C + c0;
    T* p = dwpe + (bt % T_) * C + c0;
#pragma omp simd
    for (int64_t c = 0; c < width; ++c) {
      e[c] += d[c];
      p[c] += d[c];
    }
  }
}
TANDEM_SIMD_CLONES void backward_channels(const int32_t* tok, const float* dout, float* dwte, float* dwpe,
                                          int64_t BT, int64_t T_, int64_t C, int64_t c0, int64_t c1) {
  backward_channels_impl(tok, dout, dwte, dwpe, BT, T_, C, c0, c1);
}
TANDEM_SIMD_CLONES void backward_channels(const int32_t* tok, const double* dout, double* dwte, double* dwpe,
                                          int64_t BT, int64_t T_, int64_t C, int64_t c0, int64_t c1) {
  backward_channels_impl(tok, dout, dwte, dwpe, BT, T_, C, c0, c1);
}

}  // namespace

template <class T>
void embedding_forward(const int32_t* tokens, const T* wte, const T* wpe, T* out, int64_t B, int64_t T_,
                       int64_t C, int64_t vocab) {
  const int64_t BT = B * T_;
  for (int64_t bt = 0; bt < BT; ++bt)
    if (tokens[bt] < 0 || tokens[bt] >= vocab)
      throw std::invalid_argument("embedding: token " + std::to_string(tokens[bt]) + " at position " +
                                  std::to_string(bt) + " (batch " + std::to_string(bt / T_) + ", t " +
                                  std::to_string(bt % T_) + ") is outside the vocabulary [0, " +
                                  std::to_string(vocab) + ")");
  detail::for_each_chunk(BT, detail::rows_per_chunk(C), [&](int64_t, int64_t r0, int64_t r1) {
    forward_rows(tokens, wte, wpe, out, r0, r1, T_, C);
  });
}

template <class T>
void embedding_backward(const int32_t* tokens, const T* dout, T* dwte, T* dwpe, int64_t B, int64_t T_, int64_t C) {
  const int64_t BT = B * T_;
  if (BT <= 0 || C <= 0) return;
  // Slices of 16 channels (one cache line of floats) or more, so tasks never share a line.
  const int64_t chunk = detail::round_up(detail::ceil_div(C, 16), 16);
  detail::for_each_chunk(C, chunk, [&](int64_t, int64_t c0, int64_t c1) {
    backward_channels(tokens, dout, dwte, dwpe, BT, T_, C, c0, c1);
  });
}

template void embedding_forward<float>(const int32_t*, const float*, const float*, float*, int64_t, int64_t,
                                       int64_t, int64_t);
template void embedding_forward<double>(const int32_t*, const double*, const double*, double*, int64_t, int64_t,
                                        int64_t, int64_t);
template void embedding_backward<float>(const int32_t*, const float*, float*, float*, int64_t, int64_t, int64_t);
template void embedding_backward<double>(const int32_t*, const double*, double*, double*, int64_t, int64_t,
                                         int64_t);

}  // namespace tandem::compute
