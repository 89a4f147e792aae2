// An exp that vectorises. std::exp is a library call GCC does not vectorise (without -ffast-math
// and libmvec), and softmax, GELU (whose tanh is built from exp: gelu.cpp) and the losses spend
// most of their time in it.
//
// exp_fast(float): Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, a degree-6 polynomial
// for e^r (the Cephes expf coefficients, relative error about 1e-7), and 2^n built in the
// exponent bits. Inputs are clamped to [-87, 88] so 2^n stays a normal float; e^-87 ~ 1.6e-38 is
// zero for every use here (it is added to sums >= 1). For double the standard functions are used:
// the double paths are for references and finite-difference checks, where accuracy is the point.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

#include "simd.hpp"

namespace tandem::compute::detail {

TANDEM_INLINE float exp_fast(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  // n = round(x / ln2) by the 1.5*2^23 trick (vectorises at every ISA level, unlike nearbyint).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // ln2 split in two for exactness
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

TANDEM_INLINE double exp_fast(double x) { return std::exp(x); }

TANDEM_INLINE float log_fast(float x) { return std::log(x); }  // per row only: not in inner loops
TANDEM_INLINE double log_fast(double x) { return std::log(x); }

}  // namespace tandem::compute::detail
