// SwiGLU: fast vs reference, a known value, and the reference's backward against finite differences.
#include <gtest/gtest.h>

#include <cmath>

#include "kernel_test_util.hpp"
#include "tandem/compute/reference/swiglu.hpp"
#include "tandem/compute/swiglu.hpp"

namespace tandem::compute {
namespace {

using test::expect_close;
using test::randn;
using test::to_double;

template <class T>
class SwigluTyped : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SwigluTyped, Types);

TYPED_TEST(SwigluTyped, FastMatchesReference) {
  using T = TypeParam;
  const int64_t n = 40000;  // several chunks
  auto gate = randn<T>(n, 1, 4.0), up = randn<T>(n, 2), dh = randn<T>(n, 3);
  gate[0] = T(-120);  // exp(-x) overflows in float: the sigmoid must still be 0, not NaN
  gate[1] = T(120);
  std::vector<T> h(n), dgate(n), dup(n);
  std::vector<double> h_r(n), dgate_r(n), dup_r(n);
  swiglu_forward(gate.data(), up.data(), h.data(), n);
  ref::swiglu_forward(to_double(gate).data(), to_double(up).data(), h_r.data(), n);
  expect_close(h, h_r, "h");
  swiglu_backward(gate.data(), up.data(), dh.data(), dgate.data(), dup.data(), n);
  ref::swiglu_backward(to_double(gate).data(), to_double(up).data(), to_double(dh).data(), dgate_r.data(), dup_r.data(),
                       n);
  expect_close(dgate, dgate_r, "dgate");
  expect_close(dup, dup_r, "dup");
  for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(std::isfinite(h[i]) && std::isfinite(dgate[i])) << i;
}

TEST(SwigluReference, KnownValue) {
  const double g = 1.5, u = -2.0;
  double h = 0;
  ref::swiglu_forward(&g, &u, &h, 1);
  EXPECT_NEAR(h, 1.5 / (1 + std::exp(-1.5)) * -2.0, 1e-15);
}

TEST(SwigluReference, BackwardMatchesFiniteDifferences) {
  const int64_t n = 12;
  auto gate = randn<double>(n, 1, 2.0), up = randn<double>(n, 2);
  const auto r = randn<double>(n, 3);
  std::vector<double> h(n);
  auto loss = [&] {
    ref::swiglu_forward(gate.data(), up.data(), h.data(), n);
    return test::dot(h, r);
  };
  std::vector<double> dgate(n), dup(n);
  ref::swiglu_backward(gate.data(), up.data(), r.data(), dgate.data(), dup.data(), n);
  test::expect_gradient(gate, dgate, loss, "dgate");
  test::expect_gradient(up, dup, loss, "dup");
}

}  // namespace
}  // namespace tandem::compute
