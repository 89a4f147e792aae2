// GELU (tanh): fast vs reference, known values, saturation, and the derivative against finite differences.
#include <gtest/gtest.h>

#include <cmath>

#include "kernel_test_util.hpp"
#include "tandem/compute/gelu.hpp"
#include "tandem/compute/reference/gelu.hpp"

namespace tandem::compute {
namespace {

using test::expect_close;
using test::randn;
using test::to_double;

template <class T>
class GeluTyped : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GeluTyped, Types);

TYPED_TEST(GeluTyped, FastMatchesReference) {
  using T = TypeParam;
  const int64_t n = 100003;  // several chunks, ragged tail
  auto x = randn<T>(n, 1, 3.0);
  x[0] = T(0);
  x[1] = T(30);
  x[2] = T(-30);
  x[3] = T(200);
  x[4] = T(-200);
  std::vector<T> y(n);
  std::vector<double> y_r(n);
  gelu_forward(x.data(), y.data(), n);
  ref::gelu_forward(to_double(x).data(), y_r.data(), n);
  expect_close(y, y_r, test::Tol<T>::rtol, test::Tol<T>::atol, "gelu forward");
  auto g = randn<T>(n, 2);
  std::vector<double> g_r = to_double(g);
  gelu_backward(x.data(), g.data(), n);
  ref::gelu_backward(to_double(x).data(), g_r.data(), n);
  expect_close(g, g_r, "gelu backward");
}

TEST(GeluReference, KnownValues) {
  // 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))) evaluated independently (Python math) at x = 1, -1, 3.
  EXPECT_NEAR(ref::gelu_scalar(1.0), 0.8411919906082768, 1e-15);
  EXPECT_NEAR(ref::gelu_scalar(-1.0), -0.15880800939172324, 1e-15);
  EXPECT_NEAR(ref::gelu_scalar(3.0), 2.996362607918227, 1e-14);
  EXPECT_EQ(ref::gelu_scalar(0.0), 0.0);
}

TEST(GeluReference, DerivativeMatchesFiniteDifferences) {
  auto x = randn<double>(50, 1, 2.5);
  std::vector<double> analytic(x.size());
  for (size_t i = 0; i < x.size(); ++i) analytic[i] = ref::gelu_derivative(x[i]);
  auto loss = [&] {
    double s = 0;
    for (double v : x) s += ref::gelu_scalar(v);
    return s;
  };
  test::expect_gradient(x, analytic, loss, "gelu'");
}

}  // namespace
}  // namespace tandem::compute
