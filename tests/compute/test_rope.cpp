// RoPE: fast vs reference (table, forward, backward), the table against Hugging Face's formula
// computed independently in double, the rotate-half layout on a hand-made case, norm preservation,
// and the backward against finite differences.
#include <gtest/gtest.h>

#include <cmath>

#include "kernel_test_util.hpp"
#include "tandem/compute/reference/rope.hpp"
#include "tandem/compute/rope.hpp"

namespace tandem::compute {
namespace {

using test::expect_close;
using test::randn;
using test::to_double;

template <class T>
class RopeTyped : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RopeTyped, Types);

TYPED_TEST(RopeTyped, FastMatchesReference) {
  using T = TypeParam;
  const int64_t B = 2, Tn = 37, H = 3, hd = 16, half = hd / 2;
  std::vector<T> cos(Tn * half), sin(Tn * half);
  std::vector<double> cos_r(cos.size()), sin_r(sin.size());
  rope_table(Tn, hd, 10000.0, cos.data(), sin.data());
  ref::rope_table(Tn, hd, 10000.0, cos_r.data(), sin_r.data());
  expect_close(cos, cos_r, "cos");
  expect_close(sin, sin_r, "sin");
  auto x = randn<T>(B * Tn * H * hd, 1);
  std::vector<double> x_r = to_double(x);
  rope_forward(x.data(), cos.data(), sin.data(), B, Tn, H, hd);
  ref::rope_forward(x_r.data(), cos_r.data(), sin_r.data(), B, Tn, H, hd);
  expect_close(x, x_r, "forward");
  auto g = randn<T>(B * Tn * H * hd, 2);
  std::vector<double> g_r = to_double(g);
  rope_backward(g.data(), cos.data(), sin.data(), B, Tn, H, hd);
  ref::rope_backward(g_r.data(), cos_r.data(), sin_r.data(), B, Tn, H, hd);
  expect_close(g, g_r, "backward");
}

// The angles are float32's (as transformers'), so they agree with the exact double formula to float
// precision of the angle: |t * inv_freq| * 2^-23 and a little.
TEST(RopeTable, IsHuggingFacesInverseFrequencies) {
  const int64_t Tn = 64, hd = 8, half = hd / 2;
  const double theta = 500000.0;
  std::vector<double> cos(Tn * half), sin(Tn * half);
  rope_table(Tn, hd, theta, cos.data(), sin.data());
  for (int64_t t = 0; t < Tn; ++t)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(t) / std::pow(theta, 2.0 * static_cast<double>(i) / hd);
      const double tol = 4e-7 * (1 + angle);
      EXPECT_NEAR(cos[t * half + i], std::cos(angle), tol) << "t=" << t << " i=" << i;
      EXPECT_NEAR(sin[t * half + i], std::sin(angle), tol) << "t=" << t << " i=" << i;
    }
}

// head_dim 4 at position 1 with theta 1: inv_freq = (1, 1) so both pairs rotate by 1 radian, and the
// pairs are (x0, x2) and (x1, x3): the halves, not neighbours.
TEST(RopeForward, RotatesHalfAgainstHalf) {
  std::vector<double> cos(2 * 2), sin(2 * 2);
  rope_table(2, 4, 1.0, cos.data(), sin.data());
  std::vector<double> x = {0, 0, 0, 0, 1, 2, 3, 4};  // [T=2, H=1, hd=4]; position 0 is unrotated
  rope_forward(x.data(), cos.data(), sin.data(), 1, 2, 1, 4);
  const double c = static_cast<float>(std::cos(1.0)), s = static_cast<float>(std::sin(1.0));
  EXPECT_NEAR(x[4], 1 * c - 3 * s, 1e-15);
  EXPECT_NEAR(x[6], 3 * c + 1 * s, 1e-15);
  EXPECT_NEAR(x[5], 2 * c - 4 * s, 1e-15);
  EXPECT_NEAR(x[7], 4 * c + 2 * s, 1e-15);
}

TEST(RopeReference, KeepsNormsAndBackwardMatchesFiniteDifferences) {
  const int64_t B = 1, Tn = 5, H = 2, hd = 6, half = hd / 2;
  std::vector<double> cos(Tn * half), sin(Tn * half);
  ref::rope_table(Tn, hd, 100.0, cos.data(), sin.data());
  auto x = randn<double>(B * Tn * H * hd, 1);
  std::vector<double> y = x;
  ref::rope_forward(y.data(), cos.data(), sin.data(), B, Tn, H, hd);
  for (int64_t v = 0; v < B * Tn * H; ++v) {
    double nx = 0, ny = 0;
    for (int64_t d = 0; d < hd; ++d) {
      nx += x[v * hd + d] * x[v * hd + d];
      ny += y[v * hd + d] * y[v * hd + d];
    }
    // cos and sin are float32 values (as transformers'), so cos^2 + sin^2 = 1 only to float precision.
    EXPECT_NEAR(nx, ny, 1e-6 * nx);
  }
  const auto r = randn<double>(x.size(), 2);
  auto loss = [&] {
    y = x;
    ref::rope_forward(y.data(), cos.data(), sin.data(), B, Tn, H, hd);
    return test::dot(y, r);
  };
  std::vector<double> dx = r;
  ref::rope_backward(dx.data(), cos.data(), sin.data(), B, Tn, H, hd);
  test::expect_gradient(x, dx, loss, "dx");
}

TEST(RopeForward, RefusesAnOddHeadDim) {
  std::vector<float> t(8);
  EXPECT_THROW(rope_table(2, 3, 10000.0, t.data(), t.data()), std::invalid_argument);
}

}  // namespace
}  // namespace tandem::compute
