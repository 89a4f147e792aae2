// bf16 conversion: round to nearest even against an independent rule computed in double, NaN
// kept, overflow to Inf, exact round trips, and the bulk conversions equal to the scalar ones.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tandem/compute/bf16.hpp"
#include "tandem/compute/rng.hpp"

namespace tandem::compute {
namespace {

// The bf16 nearest to f by comparing distances in double (exact for these values): the two
// candidates are f truncated toward zero and the next bf16 away from zero (2^128 standing in for
// Inf, as IEEE rounding with an unbounded exponent does before overflowing).
uint16_t nearest_bf16_by_distance(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint16_t lo_bits = static_cast<uint16_t>(u >> 16);
  const uint16_t hi_bits = static_cast<uint16_t>(lo_bits + 1);
  const double x = std::abs(static_cast<double>(f));
  const double lo = std::abs(static_cast<double>(bf16_bits_to_float(lo_bits)));
  const double hi = (hi_bits & 0x7fffu) == 0x7f80u ? std::ldexp(1.0, 128)
                                                    : std::abs(static_cast<double>(bf16_bits_to_float(hi_bits)));
  if (x - lo < hi - x) return lo_bits;
  if (x - lo > hi - x) return hi_bits;
  return (lo_bits & 1u) == 0 ? lo_bits : hi_bits;  // tie: even significand
}

TEST(Bf16, RoundsToNearestEvenForSampledBitPatterns) {
  const uint32_t lows[] = {0x0000, 0x0001, 0x3fff, 0x7fff, 0x8000, 0x8001, 0xbfff, 0xffff, 0x1234, 0xc001};
  size_t checked = 0;
  for (uint32_t high = 0; high < 0x10000u; ++high) {
    for (uint32_t low : lows) {
      const uint32_t bits = (high << 16) | low;
      const float f = std::bit_cast<float>(bits);
      const uint16_t got = float_to_bf16_bits(f);
      if (std::isnan(f)) {
        ASSERT_TRUE(std::isnan(bf16_bits_to_float(got))) << std::hex << bits;
        ASSERT_EQ(got & 0x8000u, (bits >> 16) & 0x8000u) << "sign of NaN " << std::hex << bits;
        continue;
      }
      ASSERT_EQ(got, nearest_bf16_by_distance(f)) << "float bits 0x" << std::hex << bits;
      ++checked;
    }
  }
  EXPECT_GT(checked, 600000u);
}

TEST(Bf16, HandPickedValues) {
  EXPECT_EQ(float_to_bf16_bits(1.0f), 0x3f80u);
  EXPECT_EQ(float_to_bf16_bits(std::bit_cast<float>(0x3f808000u)), 0x3f80u);  // tie, 1.0 is even
  EXPECT_EQ(float_to_bf16_bits(std::bit_cast<float>(0x3f818000u)), 0x3f82u);  // tie, rounds up to even
  EXPECT_EQ(float_to_bf16_bits(std::bit_cast<float>(0x3f808001u)), 0x3f81u);  // just above the tie
  EXPECT_EQ(float_to_bf16_bits(std::numeric_limits<float>::max()), 0x7f80u);   // overflows to +Inf
  EXPECT_EQ(float_to_bf16_bits(-std::numeric_limits<float>::infinity()), 0xff80u);
  EXPECT_EQ(float_to_bf16_bits(-0.0f), 0x8000u);
  // A NaN whose payload is only in the low half would truncate to Inf; it must stay NaN.
  EXPECT_TRUE(std::isnan(to_float(to_bf16(std::bit_cast<float>(0x7f800001u)))));
  EXPECT_TRUE(std::isnan(to_float(to_bf16(std::bit_cast<float>(0xff800001u)))));
}

TEST(Bf16, EveryBf16RoundTripsExactly) {
  for (uint32_t b = 0; b < 0x10000u; ++b) {
    const float f = bf16_bits_to_float(static_cast<uint16_t>(b));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_bf16_bits(f), b);
  }
}

TEST(Bf16, BulkConversionMatchesScalar) {
  const int64_t n = 300001;  // several chunks and a ragged tail
  std::vector<float> src(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) src[static_cast<size_t>(i)] = static_cast<float>(normal(7, 1, static_cast<uint64_t>(i)) * 1e3);
  src[5] = std::numeric_limits<float>::quiet_NaN();
  src[6] = std::numeric_limits<float>::max();
  std::vector<bf16> dst(src.size());
  convert(src.data(), dst.data(), n);
  std::vector<float> back(src.size());
  convert(dst.data(), back.data(), n);
  for (size_t i = 0; i < src.size(); ++i) {
    const uint16_t want = float_to_bf16_bits(src[i]);
    ASSERT_EQ(dst[i].bits, want) << i;
    ASSERT_EQ(std::bit_cast<uint32_t>(back[i]), static_cast<uint32_t>(want) << 16) << i;
  }
}

}  // namespace
}  // namespace tandem::compute
