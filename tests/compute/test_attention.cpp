// Causal attention: fast (BLAS per head, lse saved, probabilities recomputed) vs the plain
// reference, the reference backward against finite differences, and causality.
#include <gtest/gtest.h>

#include <cmath>

#include "kernel_test_util.hpp"
#include "tandem/compute/attention.hpp"
#include "tandem/compute/reference/attention.hpp"

namespace tandem::compute {
namespace {

using test::expect_close;
using test::randn;
using test::to_double;

struct AttnCase {
  int64_t B, T, C, H;
};
const AttnCase kCases[] = {{1, 1, 4, 1}, {2, 7, 12, 3}, {3, 33, 64, 4}, {2, 128, 128, 4}};

template <class T>
class AttentionTyped : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(AttentionTyped, Types);

TYPED_TEST(AttentionTyped, FastMatchesReference) {
  using T = TypeParam;
  for (const AttnCase& c : kCases) {
    const std::string tag = " B=" + std::to_string(c.B) + " T=" + std::to_string(c.T) + " C=" + std::to_string(c.C);
    const auto qkv = randn<T>(c.B * c.T * 3 * c.C, 1, 1.5);
    std::vector<T> y(c.B * c.T * c.C), lse(c.B * c.H * c.T);
    std::vector<double> y_r(y.size()), lse_r(lse.size());
    attention_forward(qkv.data(), y.data(), lse.data(), c.B, c.T, c.C, c.H);
    ref::attention_forward(to_double(qkv).data(), y_r.data(), lse_r.data(), c.B, c.T, c.C, c.H);
    expect_close(y, y_r, "y" + tag);
    expect_close(lse, lse_r, "lse" + tag);
    const auto dy = randn<T>(y.size(), 2);
    std::vector<T> dqkv(qkv.size(), T(123));  // overwritten
    std::vector<double> dqkv_r(qkv.size());
    attention_backward(dy.data(), qkv.data(), lse.data(), dqkv.data(), c.B, c.T, c.C, c.H);
    ref::attention_backward(to_double(dy).data(), to_double(qkv).data(), lse_r.data(), dqkv_r.data(), c.B, c.T, c.C,
                            c.H);
    expect_close(dqkv, dqkv_r, test::Tol<T>::rtol * 4, test::Tol<T>::atol * 4, "dqkv" + tag);
  }
}

TEST(AttentionReference, BackwardMatchesFiniteDifferences) {
  const int64_t B = 2, T = 4, C = 6, H = 2;
  auto qkv = randn<double>(B * T * 3 * C, 1);
  const auto r = randn<double>(B * T * C, 2);
  std::vector<double> y(B * T * C), lse(B * H * T);
  auto loss = [&] {
    ref::attention_forward(qkv.data(), y.data(), lse.data(), B, T, C, H);
    return test::dot(y, r);
  };
  std::vector<double> dqkv(qkv.size());
  ref::attention_backward(r.data(), qkv.data(), lse.data(), dqkv.data(), B, T, C, H);
  test::expect_gradient(qkv, dqkv, loss, "dqkv");
}

TEST(Attention, SingleTokenReturnsItsValueAndLaterTokensDoNotLeakBack) {
  const int64_t B = 1, T = 9, C = 16, H = 2;
  auto qkv = randn<float>(B * T * 3 * C, 1);
  std::vector<float> y(B * T * C), lse(B * H * T);
  attention_forward(qkv.data(), y.data(), lse.data(), B, T, C, H);
  for (int64_t c = 0; c < C; ++c) EXPECT_FLOAT_EQ(y[c], qkv[2 * C + c]);  // t = 0 sees only itself
  const std::vector<float> before = y;
  for (int64_t i = 0; i < 3 * C; ++i) qkv[6 * 3 * C + i] += 1.0f;  // change token 6's q, k and v
  attention_forward(qkv.data(), y.data(), lse.data(), B, T, C, H);
  for (int64_t i = 0; i < 6 * C; ++i) ASSERT_EQ(y[i], before[i]) << "position " << i / C << " saw the future";
  bool changed = false;
  for (int64_t i = 6 * C; i < T * C; ++i) changed |= y[i] != before[i];
  EXPECT_TRUE(changed);
}

TEST(Attention, RejectsHeadsThatDoNotDivideWidth) {
  std::vector<float> buf(64);
  EXPECT_THROW(attention_forward(buf.data(), buf.data(), buf.data(), 1, 1, 10, 3), std::invalid_argument);
}

}  // namespace
}  // namespace tandem::compute
