// BLAS-tiled matmul and the linear layer against the plain references (float and double), the
// reference linear backward against finite differences, and bitwise independence of the thread count.
#include <gtest/gtest.h>

#include <oneapi/tbb/task_arena.h>

#include <cstdlib>

#include "kernel_test_util.hpp"
#include "tandem/compute/blas_info.hpp"
#include "tandem/compute/matmul.hpp"
#include "tandem/compute/reference/matmul.hpp"

namespace tandem::compute {
namespace {

using test::expect_close;
using test::randn;
using test::to_double;

struct MatmulCase {
  int64_t m, n, k;
};
// Small, ragged, and large enough to be cut into many tiles (edges not multiples of the tile).
const MatmulCase kCases[] = {{1, 1, 1}, {7, 5, 3}, {64, 48, 32}, {257, 130, 96}, {300, 200, 64}, {96, 530, 257}};

template <class T>
void check_matmul(Trans ta, Trans tb, T alpha, T beta) {
  for (const MatmulCase& c : kCases) {
    const auto a = randn<T>(static_cast<size_t>(c.m * c.k), 1);
    const auto b = randn<T>(static_cast<size_t>(c.k * c.n), 2);
    auto got = randn<T>(static_cast<size_t>(c.m * c.n), 3);
    std::vector<double> want = to_double(got);
    matmul(a.data(), ta, b.data(), tb, got.data(), c.m, c.n, c.k, alpha, beta);
    ref::matmul(to_double(a).data(), ta, to_double(b).data(), tb, want.data(), c.m, c.n, c.k, double(alpha),
                double(beta));
    expect_close(got, want,
                 "matmul m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) +
                     " ta=" + std::to_string(int(ta)) + " tb=" + std::to_string(int(tb)));
  }
}

template <class T>
class MatmulTyped : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(MatmulTyped, Types);

TYPED_TEST(MatmulTyped, AllTransposesAlphaBetaMatchReference) {
  for (Trans ta : {Trans::no, Trans::yes})
    for (Trans tb : {Trans::no, Trans::yes}) {
      check_matmul<TypeParam>(ta, tb, TypeParam(1), TypeParam(0));
      check_matmul<TypeParam>(ta, tb, TypeParam(0.5), TypeParam(-1.5));
    }
}

TYPED_TEST(MatmulTyped, BetaZeroIgnoresNaNsInOutput) {
  using T = TypeParam;
  const auto a = randn<T>(64 * 32, 1), b = randn<T>(32 * 80, 2);
  std::vector<T> c(64 * 80, std::numeric_limits<T>::quiet_NaN());
  matmul(a.data(), Trans::no, b.data(), Trans::no, c.data(), 64, 80, 32);
  for (T v : c) ASSERT_FALSE(std::isnan(v));
}

TYPED_TEST(MatmulTyped, LinearForwardAndBackwardMatchReference) {
  using T = TypeParam;
  const int64_t rows = 190, in = 72, out = 136;
  const auto x = randn<T>(rows * in, 1), w = randn<T>(in * out, 2, 0.1), bias = randn<T>(out, 3);
  for (bool with_bias : {true, false})
    for (bool accumulate : {false, true}) {
      auto y = randn<T>(rows * out, 4);
      std::vector<double> want = to_double(y);
      linear_forward(x.data(), w.data(), with_bias ? bias.data() : nullptr, y.data(), rows, in, out, accumulate);
      ref::linear_forward(to_double(x).data(), to_double(w).data(), with_bias ? to_double(bias).data() : nullptr,
                          want.data(), rows, in, out, accumulate);
      expect_close(y, want, "linear_forward bias=" + std::to_string(with_bias) + " acc=" + std::to_string(accumulate));
    }
  const auto dy = randn<T>(rows * out, 5);
  auto dx = randn<T>(rows * in, 6);  // overwritten
  auto dw = randn<T>(in * out, 7), db = randn<T>(out, 8);  // accumulated into
  std::vector<double> dx_want(dx.size()), dw_want = to_double(dw), db_want = to_double(db);
  linear_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), rows, in, out);
  ref::linear_backward(to_double(x).data(), to_double(w).data(), to_double(dy).data(), dx_want.data(), dw_want.data(),
                       db_want.data(), rows, in, out);
  expect_close(dx, dx_want, "linear_backward dx");
  expect_close(dw, dw_want, "linear_backward dw");
  expect_close(db, db_want, "linear_backward dbias");
}

TYPED_TEST(MatmulTyped, ColumnSumMatchesReference) {
  using T = TypeParam;
  for (int64_t cols : {1, 17, 128, 300, 1000}) {
    const auto x = randn<T>(static_cast<size_t>(77 * cols), 1);
    auto got = randn<T>(static_cast<size_t>(cols), 2);
    std::vector<double> want = to_double(got);
    column_sum_accumulate(x.data(), got.data(), 77, cols);
    ref::column_sum_accumulate(to_double(x).data(), want.data(), 77, cols);
    expect_close(got, want, "column_sum cols=" + std::to_string(cols));
  }
}

TEST(Matmul, ResultDoesNotDependOnThreadCount) {
  const int64_t m = 512, n = 384, k = 128;
  const auto a = randn<float>(m * k, 1), b = randn<float>(k * n, 2);
  std::vector<float> one(m * n), two(m * n);
  tbb::task_arena(1).execute([&] { matmul(a.data(), Trans::no, b.data(), Trans::yes, one.data(), m, n, k); });
  tbb::task_arena(2).execute([&] { matmul(a.data(), Trans::no, b.data(), Trans::yes, two.data(), m, n, k); });
  EXPECT_EQ(one, two);
}

TEST(MatmulReference, LinearBackwardMatchesFiniteDifferences) {
  const int64_t rows = 4, in = 3, out = 5;
  auto x = randn<double>(rows * in, 1), w = randn<double>(in * out, 2), bias = randn<double>(out, 3);
  const auto r = randn<double>(rows * out, 4);  // loss = sum(y * r)
  std::vector<double> y(rows * out);
  auto loss = [&] {
    ref::linear_forward(x.data(), w.data(), bias.data(), y.data(), rows, in, out);
    return test::dot(y, r);
  };
  std::vector<double> dx(x.size()), dw(w.size(), 0.0), db(bias.size(), 0.0);
  ref::linear_backward(x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data(), rows, in, out);
  test::expect_gradient(x, dx, loss, "dx");
  test::expect_gradient(w, dw, loss, "dw");
  test::expect_gradient(bias, db, loss, "dbias");
}

// OpenBLAS 0.3.21 falls back to its generic SSE3 kernels on CPUs newer than its model table; the
// loader must have chosen vector kernels wherever the CPU has AVX2 (unless the user forced a type).
TEST(Blas, UsesVectorKernelsOnVectorCpus) {
  const BlasInfo info = blas_info();
  EXPECT_FALSE(info.library.empty());
  EXPECT_FALSE(info.kernels.empty());
#if defined(__x86_64__)
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr && __builtin_cpu_supports("avx2")) {
    EXPECT_NE(info.kernels, "Prescott");
    EXPECT_NE(info.kernels, "Core2");
  }
#endif
}

TEST(Matmul, RejectsNegativeSizes) { EXPECT_THROW(matmul<float>(nullptr, Trans::no, nullptr, Trans::no, nullptr, -1, 2, 2), std::invalid_argument); }

}  // namespace
}  // namespace tandem::compute
