// Residual add, accumulate, scale and the sum of squares: fast vs reference; the sum is the same
// on any thread count.
#include <gtest/gtest.h>

#include <oneapi/tbb/task_arena.h>

#include "kernel_test_util.hpp"
#include "tandem/compute/elementwise.hpp"
#include "tandem/compute/reference/elementwise.hpp"

namespace tandem::compute {
namespace {

using test::expect_close;
using test::randn;
using test::to_double;

template <class T>
class ElementwiseTyped : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ElementwiseTyped, Types);

TYPED_TEST(ElementwiseTyped, FastMatchesReference) {
  using T = TypeParam;
  const int64_t n = 100001;
  const auto a = randn<T>(n, 1), b = randn<T>(n, 2);
  std::vector<T> out(n);
  std::vector<double> out_r(n);
  add(a.data(), b.data(), out.data(), n);
  ref::add(to_double(a).data(), to_double(b).data(), out_r.data(), n);
  expect_close(out, out_r, "add");
  accumulate(out.data(), a.data(), n);
  ref::accumulate(out_r.data(), to_double(a).data(), n);
  expect_close(out, out_r, "accumulate");
  scale(out.data(), T(-0.375), n);
  ref::scale(out_r.data(), -0.375, n);
  expect_close(out, out_r, "scale");
  const double ss = sum_of_squares(a.data(), n);
  const double ss_r = ref::sum_of_squares(a.data(), n);
  EXPECT_NEAR(ss, ss_r, 1e-12 * ss_r);
}

TEST(Elementwise, SumOfSquaresDoesNotDependOnThreadCount) {
  const int64_t n = 1 << 20;
  const auto x = randn<float>(n, 1);
  double one = 0, two = 0;
  tbb::task_arena(1).execute([&] { one = sum_of_squares(x.data(), n); });
  tbb::task_arena(2).execute([&] { two = sum_of_squares(x.data(), n); });
  EXPECT_EQ(one, two);
  EXPECT_EQ(sum_of_squares<float>(nullptr, 0), 0.0);
}

}  // namespace
}  // namespace tandem::compute
