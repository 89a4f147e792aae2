// tandem/dtype.hpp's bf16 conversions against an independent reference: widening decoded from the
// fields with ldexp, narrowing by comparing distances to the two neighbouring bf16 values.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>

#include "tandem/dtype.hpp"

namespace {

// The value of a bf16 pattern from its fields (sign, 8-bit exponent, 7-bit fraction).
double decode_bf16(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exponent = (h >> 7) & 0xff;
  const int fraction = h & 0x7f;
  if (exponent == 0xff) return fraction ? std::nan("") : sign * HUGE_VAL;
  if (exponent == 0) return sign * std::ldexp(fraction, -133);  // subnormal: 0.f * 2^-126
  return sign * std::ldexp(128 + fraction, exponent - 134);     // 1.f * 2^(e-127)
}

// On the rounding grid, the pattern after the largest finite one stands for 2^128.
double grid(uint16_t h) {
  if ((h & 0x7fff) == 0x7f80) return (h & 0x8000) ? -std::ldexp(1.0, 128) : std::ldexp(1.0, 128);
  return decode_bf16(h);
}

uint16_t nearest_even(float f) {
  const uint16_t lo = static_cast<uint16_t>(std::bit_cast<uint32_t>(f) >> 16), hi = static_cast<uint16_t>(lo + 1);
  const double below = std::fabs(static_cast<double>(f) - grid(lo)), above = std::fabs(grid(hi) - f);
  if (below != above) return below < above ? lo : hi;
  return (lo & 1) ? hi : lo;
}

TEST(Bf16, WideningIsExactForEveryPattern) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float f = tandem::sdk::bf16_to_float(static_cast<uint16_t>(h));
    const double want = decode_bf16(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(f)) << h;
    } else {
      ASSERT_EQ(static_cast<double>(f), want) << "pattern 0x" << std::hex << h;
      ASSERT_EQ(std::signbit(f), std::signbit(want)) << "pattern 0x" << std::hex << h;
    }
  }
}

TEST(Bf16, NarrowingRoundsToNearestEven) {
  // Every upper half, with the lower halves where rounding decides: exact, just below, at and just
  // above the tie, the largest, and a random one.
  std::mt19937 rng(3);
  for (uint32_t upper = 0; upper <= 0xffff; ++upper) {
    for (uint32_t lower :
         {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu, static_cast<uint32_t>(rng() & 0xffffu)}) {
      const uint32_t bits = (upper << 16) | lower;
      const float f = std::bit_cast<float>(bits);
      const uint16_t got = tandem::sdk::float_to_bf16(f);
      if (std::isnan(f)) {
        ASSERT_TRUE(std::isnan(tandem::sdk::bf16_to_float(got))) << "NaN 0x" << std::hex << bits << " became 0x" << got;
        ASSERT_EQ(got >> 15, bits >> 31) << "NaN sign";
        continue;
      }
      if (std::isinf(f)) {
        ASSERT_EQ(got, upper);
        continue;
      }
      ASSERT_EQ(got, nearest_even(f)) << "0x" << std::hex << bits;
    }
  }
}

TEST(Bf16, TiesGoToTheEvenNeighbour) {
  // 1 + 2^-8 lies halfway between 1 (even fraction) and 1 + 2^-7 (odd): it rounds to 1.
  EXPECT_EQ(tandem::sdk::float_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): it rounds up.
  EXPECT_EQ(tandem::sdk::float_to_bf16(1.0f + 3.0f * std::ldexp(1.0f, -8)), 0x3f82);
  // Above the largest finite bf16 by half a step or more: infinity.
  EXPECT_EQ(tandem::sdk::float_to_bf16(std::bit_cast<float>(0x7f7f8000u)), 0x7f80);
  EXPECT_EQ(tandem::sdk::float_to_bf16(std::bit_cast<float>(0x7f7f7fffu)), 0x7f7f);
  EXPECT_EQ(tandem::sdk::float_to_bf16(-0.0f), 0x8000);
}

}  // namespace
