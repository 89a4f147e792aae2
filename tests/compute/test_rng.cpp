// Philox4x32-10 against the known-answer vectors of the Random123 distribution, and the
// statistics of the derived uniforms and normals.
#include <gtest/gtest.h>

#include <cmath>

#include "tandem/compute/rng.hpp"

namespace tandem::compute {
namespace {

TEST(Philox, KnownAnswers) {
  EXPECT_EQ(philox4x32_10({0, 0, 0, 0}, {0, 0}), (PhiloxCounter{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}),
            (PhiloxCounter{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}),
            (PhiloxCounter{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Philox, NormalsHaveUnitMomentsAndDependOnlyOnTheirCoordinates) {
  const int n = 200000;
  double sum = 0, sum_sq = 0, sum_4 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = normal(42, 3, static_cast<uint64_t>(i));
    sum += z;
    sum_sq += z * z;
    sum_4 += z * z * z * z;
  }
  const double mean = sum / n, var = sum_sq / n - mean * mean;
  EXPECT_LT(std::abs(mean), 0.01);       // 4.5 standard errors
  EXPECT_LT(std::abs(var - 1.0), 0.015);  // 4.7 standard errors
  EXPECT_NEAR(sum_4 / n, 3.0, 0.1);       // Gaussian kurtosis
  EXPECT_EQ(normal(42, 3, 12345), normal(42, 3, 12345));
  EXPECT_NE(normal(42, 3, 12345), normal(43, 3, 12345));
  EXPECT_NE(normal(42, 3, 12345), normal(42, 4, 12345));
}

TEST(Philox, UniformsAreInsideTheOpenInterval) {
  EXPECT_GT(uniform_open01(0, 0), 0.0);
  EXPECT_LT(uniform_open01(0xffffffffu, 0xffffffffu), 1.0);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) sum += uniform(1, 2, static_cast<uint64_t>(i));
  EXPECT_NEAR(sum / 100000, 0.5, 0.005);
}

}  // namespace
}  // namespace tandem::compute
