// Cross-entropy and distillation KL: fast vs reference, the reference gradients against finite
// differences in double, and the losses' defining properties.
#include <gtest/gtest.h>

#include <cmath>

#include "kernel_test_util.hpp"
#include "tandem/compute/losses.hpp"
#include "tandem/compute/reference/losses.hpp"

namespace tandem::compute {
namespace {

using test::expect_close;
using test::randn;
using test::to_double;

std::vector<int32_t> targets_for(int64_t rows, int64_t vocab) {
  std::vector<int32_t> t(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) t[static_cast<size_t>(i)] = static_cast<int32_t>((i * 7919) % vocab);
  if (rows > 3) t[3] = -100;  // ignored
  return t;
}

template <class T>
class LossesTyped : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(LossesTyped, Types);

TYPED_TEST(LossesTyped, CrossEntropyFastMatchesReference) {
  using T = TypeParam;
  for (int64_t vocab : {2, 11, 256, 5000}) {
    const int64_t rows = 70;
    const std::string tag = " vocab=" + std::to_string(vocab);
    const auto logits = randn<T>(rows * vocab, 1, 3.0);
    const auto targets = targets_for(rows, vocab);
    std::vector<T> loss(rows);
    std::vector<double> loss_r(rows);
    cross_entropy_forward(logits.data(), targets.data(), loss.data(), rows, vocab);
    ref::cross_entropy_forward(to_double(logits).data(), targets.data(), loss_r.data(), rows, vocab);
    expect_close(loss, loss_r, "ce loss" + tag);
    EXPECT_EQ(loss[3], T(0));
    const auto dl = randn<T>(rows, 2);
    auto d = randn<T>(rows * vocab, 3);
    std::vector<double> d_r = to_double(d);
    cross_entropy_backward(logits.data(), targets.data(), dl.data(), d.data(), rows, vocab);
    ref::cross_entropy_backward(to_double(logits).data(), targets.data(), to_double(dl).data(), d_r.data(), rows, vocab);
    expect_close(d, d_r, "ce dlogits" + tag);
  }
}

TYPED_TEST(LossesTyped, DistillationFastMatchesReference) {
  using T = TypeParam;
  for (Distillation dist : {Distillation{1.0, 1.0}, Distillation{2.0, 0.5}, Distillation{0.7, 3.0}}) {
    const int64_t rows = 40, vocab = 300;
    const auto s = randn<T>(rows * vocab, 1, 2.0), t = randn<T>(rows * vocab, 2, 2.0);
    std::vector<T> loss(rows);
    std::vector<double> loss_r(rows);
    kl_distill_forward(s.data(), t.data(), loss.data(), rows, vocab, dist);
    ref::kl_distill_forward(to_double(s).data(), to_double(t).data(), loss_r.data(), rows, vocab, dist);
    expect_close(loss, loss_r, test::Tol<T>::rtol * 10, test::Tol<T>::atol * 10, "kl loss");
    const auto dl = randn<T>(rows, 3);
    auto d = randn<T>(rows * vocab, 4);
    std::vector<double> d_r = to_double(d);
    kl_distill_backward(s.data(), t.data(), dl.data(), d.data(), rows, vocab, dist);
    ref::kl_distill_backward(to_double(s).data(), to_double(t).data(), to_double(dl).data(), d_r.data(), rows, vocab,
                             dist);
    expect_close(d, d_r, "kl dstudent");
  }
}

TEST(LossesReference, CrossEntropyGradientMatchesFiniteDifferences) {
  const int64_t rows = 5, vocab = 7;
  auto logits = randn<double>(rows * vocab, 1, 2.0);
  const auto targets = targets_for(rows, vocab);
  const auto weights = randn<double>(rows, 2);  // loss = sum_i w_i loss_i
  std::vector<double> loss(rows);
  auto f = [&] {
    ref::cross_entropy_forward(logits.data(), targets.data(), loss.data(), rows, vocab);
    return test::dot(loss, weights);
  };
  std::vector<double> d(logits.size(), 0.0);
  ref::cross_entropy_backward(logits.data(), targets.data(), weights.data(), d.data(), rows, vocab);
  test::expect_gradient(logits, d, f, "ce dlogits");
}

TEST(LossesReference, DistillationGradientMatchesFiniteDifferences) {
  const int64_t rows = 4, vocab = 9;
  auto s = randn<double>(rows * vocab, 1, 2.0);
  const auto t = randn<double>(rows * vocab, 2, 2.0);
  const auto weights = randn<double>(rows, 3);
  const Distillation dist{1.7, 0.6};
  std::vector<double> loss(rows);
  auto f = [&] {
    ref::kl_distill_forward(s.data(), t.data(), loss.data(), rows, vocab, dist);
    return test::dot(loss, weights);
  };
  std::vector<double> d(s.size(), 0.0);
  ref::kl_distill_backward(s.data(), t.data(), weights.data(), d.data(), rows, vocab, dist);
  test::expect_gradient(s, d, f, "kl dstudent");
}

TEST(Losses, DefiningProperties) {
  const int64_t vocab = 50;
  std::vector<float> uniform(vocab, 0.25f);
  const int32_t target = 7;
  float loss = 0;
  cross_entropy_forward(uniform.data(), &target, &loss, 1, vocab);
  EXPECT_NEAR(loss, std::log(50.0), 1e-6);  // uniform prediction: log V
  const auto s = randn<float>(vocab, 1);
  float kl = 1;
  kl_distill_forward(s.data(), s.data(), &kl, 1, vocab, Distillation{2.0, 1.0});
  EXPECT_NEAR(kl, 0.0, 1e-6);  // identical distributions
  const auto t = randn<float>(vocab, 2);
  kl_distill_forward(s.data(), t.data(), &kl, 1, vocab, Distillation{2.0, 1.0});
  EXPECT_GT(kl, 0.0f);
  // alpha scales linearly; the loss at temperature tau is tau^2 KL of the softened distributions.
  std::vector<double> sd = to_double(s), td = to_double(t);
  double k1 = 0, k2 = 0;
  ref::kl_distill_forward(sd.data(), td.data(), &k1, 1, vocab, Distillation{2.0, 1.0});
  ref::kl_distill_forward(sd.data(), td.data(), &k2, 1, vocab, Distillation{2.0, 3.0});
  EXPECT_NEAR(k2, 3.0 * k1, 1e-12);
  std::vector<double> sd_half(sd), td_half(td);
  for (auto& v : sd_half) v /= 2.0;
  for (auto& v : td_half) v /= 2.0;
  double k_plain = 0;
  ref::kl_distill_forward(sd_half.data(), td_half.data(), &k_plain, 1, vocab, Distillation{1.0, 1.0});
  EXPECT_NEAR(k1, 4.0 * k_plain, 1e-12);
}

TEST(Losses, RejectsBadTargetsAndTemperature) {
  std::vector<float> logits(20), loss(2);
  const std::vector<int32_t> bad = {1, 10};
  try {
    cross_entropy_forward(logits.data(), bad.data(), loss.data(), 2, 10);
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("target 10 at row 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kl_distill_forward(logits.data(), logits.data(), loss.data(), 2, 10, Distillation{0.0, 1.0}),
               std::invalid_argument);
}

}  // namespace
}  // namespace tandem::compute
