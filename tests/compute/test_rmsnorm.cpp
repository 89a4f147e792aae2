// RMSNorm: fast vs reference (forward and the accumulating backward), the reference's defining
// property (unit root mean square), and its backward against finite differences.
#include <gtest/gtest.h>

#include "kernel_test_util.hpp"
#include "tandem/compute/reference/rmsnorm.hpp"
#include "tandem/compute/rmsnorm.hpp"

namespace tandem::compute {
namespace {

using test::expect_close;
using test::randn;
using test::to_double;

template <class T>
class RmsNormTyped : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RmsNormTyped, Types);

TYPED_TEST(RmsNormTyped, FastMatchesReference) {
  using T = TypeParam;
  for (int64_t cols : {3, 8, 100, 768}) {
    const int64_t rows = 300;
    const auto x = randn<T>(rows * cols, 1, 2.0, 0.5), w = randn<T>(cols, 2, 1.0, 1.0);
    std::vector<T> out(rows * cols), rstd(rows);
    std::vector<double> out_r(out.size()), rstd_r(rows);
    rmsnorm_forward(x.data(), w.data(), out.data(), rstd.data(), rows, cols);
    ref::rmsnorm_forward(to_double(x).data(), to_double(w).data(), out_r.data(), rstd_r.data(), rows, cols);
    const std::string tag = " cols=" + std::to_string(cols);
    expect_close(out, out_r, "out" + tag);
    expect_close(rstd, rstd_r, "rstd" + tag);

    const auto dout = randn<T>(rows * cols, 4);
    auto dx = randn<T>(rows * cols, 5), dw = randn<T>(cols, 6);  // accumulated into
    std::vector<double> dx_r = to_double(dx), dw_r = to_double(dw);
    rmsnorm_backward(dout.data(), x.data(), w.data(), rstd.data(), dx.data(), dw.data(), rows, cols);
    ref::rmsnorm_backward(to_double(dout).data(), to_double(x).data(), to_double(w).data(), rstd_r.data(), dx_r.data(),
                          dw_r.data(), rows, cols);
    expect_close(dx, dx_r, "dx" + tag);
    test::expect_close(dw, dw_r, test::Tol<T>::rtol * 10, test::Tol<T>::atol * 10, "dweight" + tag);
  }
}

TEST(RmsNormReference, UnitRootMeanSquareAndNoCentring) {
  const int64_t rows = 3, cols = 64;
  const auto x = randn<double>(rows * cols, 1, 3.0, 5.0);  // mean 5: a LayerNorm would remove it
  const std::vector<double> w(cols, 1.0);
  std::vector<double> out(rows * cols), rstd(rows);
  ref::rmsnorm_forward(x.data(), w.data(), out.data(), rstd.data(), rows, cols, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0, s2 = 0;
    for (int64_t c = 0; c < cols; ++c) {
      s += out[r * cols + c];
      s2 += out[r * cols + c] * out[r * cols + c];
    }
    EXPECT_NEAR(s2 / cols, 1.0, 1e-12);
    EXPECT_GT(s / cols, 0.5);  // still centred far from 0
  }
}

TEST(RmsNormReference, BackwardMatchesFiniteDifferences) {
  const int64_t rows = 3, cols = 6;
  auto x = randn<double>(rows * cols, 1), w = randn<double>(cols, 2);
  const auto r = randn<double>(rows * cols, 4);
  std::vector<double> out(rows * cols), rstd(rows);
  auto loss = [&] {
    ref::rmsnorm_forward(x.data(), w.data(), out.data(), rstd.data(), rows, cols);
    return test::dot(out, r);
  };
  loss();
  std::vector<double> dx(x.size(), 0.0), dw(cols, 0.0);
  ref::rmsnorm_backward(r.data(), x.data(), w.data(), rstd.data(), dx.data(), dw.data(), rows, cols);
  test::expect_gradient(x, dx, loss, "dx");
  test::expect_gradient(w, dw, loss, "dweight");
}

}  // namespace
}  // namespace tandem::compute
