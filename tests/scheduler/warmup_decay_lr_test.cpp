// WarmupDecayLR's edge cases: total equal to or below the warm-up, the decay's end, DeepSpeed's own
// shape test (min 0.1, max 0.2), and the required total_num_steps.
#include <gtest/gtest.h>

#include <array>

#include "scheduler_test_support.hpp"

namespace tandem::test {
namespace {

constexpr std::array<double, 1> kGroup = {0.05};

// lrs[i] is the value at iteration i - 1.
std::vector<double> lrs_over(const std::string& params, int64_t iterations) {
  LrScheduler s = make_scheduler(&tandem_module_descriptor_warmup_decay_lr, params, kGroup);
  std::vector<double> out;
  for (int64_t it = -1; it < iterations; ++it, s.step()) out.push_back(s.values().lrs[0]);
  return out;
}

TEST(WarmupDecayLR, ShapeOfDeepSpeedsTest) {
  for (const int warmup : {10, 15, 19, 33}) {
    for (const char* type : {"log", "linear"}) {
      const int total = 3 * warmup;
      const std::string params = R"({"warmup_min_lr": 0.1, "warmup_max_lr": 0.2, "total_num_steps": )" +
                                 std::to_string(total) + R"(, "warmup_num_steps": )" + std::to_string(warmup) +
                                 R"(, "warmup_type": ")" + type + "\"}";
      const auto lrs = lrs_over(params, total + 5);
      EXPECT_EQ(lrs[0 + 1], 0.1) << params;
      EXPECT_DOUBLE_EQ(lrs[warmup + 1], 0.2) << params;
      for (int it = warmup + 1; it <= total; ++it) EXPECT_LT(lrs[it + 1], lrs[it]) << params << " at " << it;
      EXPECT_DOUBLE_EQ(lrs[total + 1], 0.1) << params;
      for (int it = total; it < total + 5; ++it) EXPECT_EQ(lrs[it + 1], 0.1) << "no further decay past T";
    }
  }
}

TEST(WarmupDecayLR, TotalEqualToWarmupDropsToTheMinimumAtW) {
  const auto lrs = lrs_over(R"({"warmup_min_lr": 0.001, "warmup_max_lr": 0.01, "total_num_steps": 12,
                                "warmup_num_steps": 12})",
                            20);
  EXPECT_DOUBLE_EQ(lrs[11 + 1], 0.01);  // log warm-up done at W - 1
  EXPECT_EQ(lrs[12 + 1], 0.001);        // (T - it) / max(1, T - W) = 0 / 1
  EXPECT_EQ(lrs[19 + 1], 0.001);
}

TEST(WarmupDecayLR, TotalBelowWarmupIsAllowedAndEndsAtTheMinimum) {
  // DeepSpeed warns and goes on: the warm-up runs its course, then (T - it) < 0 gives the minimum.
  const auto lrs = lrs_over(R"({"warmup_min_lr": 0.001, "warmup_max_lr": 0.01, "total_num_steps": 5,
                                "warmup_num_steps": 10, "warmup_type": "linear"})",
                            15);
  EXPECT_DOUBLE_EQ(lrs[9 + 1], 0.001 + 0.009 * 0.9);
  EXPECT_EQ(lrs[10 + 1], 0.001);
  EXPECT_EQ(lrs[14 + 1], 0.001);
}

TEST(WarmupDecayLR, OneWarmupStepMeansTwo) {
  EXPECT_EQ(lrs_over(R"({"total_num_steps": 50, "warmup_num_steps": 1})", 60),
            lrs_over(R"({"total_num_steps": 50, "warmup_num_steps": 2})", 60));
}

TEST(WarmupDecayLR, TotalNumStepsIsRequired) {
  try {
    create_static_instance(&tandem_module_descriptor_warmup_decay_lr, R"({"warmup_num_steps": 10})");
    FAIL() << "created without total_num_steps";
  } catch (const ModuleError& e) {
    EXPECT_NE(std::string(e.what()).find("total_num_steps"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tandem::test
