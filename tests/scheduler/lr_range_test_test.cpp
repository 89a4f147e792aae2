// LRRangeTest's edge cases: staircase plateaus of step_size iterations, the continuous slope, and a
// step size of 0 (a division by zero in DeepSpeed) refused.
#include <gtest/gtest.h>

#include <array>

#include "scheduler_test_support.hpp"

namespace tandem::test {
namespace {

constexpr DescriptorFn kRangeTest = &tandem_module_descriptor_lr_range_test;
constexpr std::array<double, 1> kGroup = {0.05};

std::vector<double> lrs_over(const std::string& params, int64_t iterations) {
  LrScheduler s = make_scheduler(kRangeTest, params, kGroup);
  std::vector<double> out;  // out[i] is iteration i - 1
  for (int64_t it = -1; it < iterations; ++it, s.step()) out.push_back(s.values().lrs[0]);
  return out;
}

TEST(LRRangeTest, StaircaseHoldsPlateausOfStepSizeIterations) {
  const auto lrs = lrs_over(R"({"lr_range_test_min_lr": 0.001, "lr_range_test_step_size": 10,
                                "lr_range_test_step_rate": 2, "lr_range_test_staircase": true})",
                            60);
  // interval = floor((it + 1) / 10): iterations -1..8 form plateau 0, 9..18 plateau 1, ...
  for (int it = -1; it < 59; ++it) {
    const int plateau = (it + 1) / 10;
    EXPECT_DOUBLE_EQ(lrs[it + 1], 0.001 * (1 + 2 * plateau)) << "iteration " << it;
    if (it < 0) continue;
    if ((it + 1) % 10 != 0) {
      EXPECT_EQ(lrs[it + 1], lrs[it]) << "inside a plateau at " << it;
    } else {
      EXPECT_GT(lrs[it + 1], lrs[it]) << "a new plateau at " << it;
    }
  }
}

TEST(LRRangeTest, ContinuousGrowsByAConstantStep) {
  const auto lrs = lrs_over(R"({"lr_range_test_min_lr": 0.001, "lr_range_test_step_size": 8,
                                "lr_range_test_step_rate": 0.5})",
                            50);
  EXPECT_EQ(lrs[0], 0.001);  // construction: the minimum
  for (int it = 0; it < 49; ++it) EXPECT_NEAR(lrs[it + 1] - lrs[it], 0.001 * 0.5 / 8, 1e-15) << it;
}

TEST(LRRangeTest, StepSizeZeroIsRefused) {
  try {
    create_static_instance(kRangeTest, R"({"lr_range_test_step_size": 0})");
    FAIL() << "accepted lr_range_test_step_size 0";
  } catch (const ModuleError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("lr_range_test_step_size"), std::string::npos) << message;
    EXPECT_NE(message.find("minimum"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace tandem::test
