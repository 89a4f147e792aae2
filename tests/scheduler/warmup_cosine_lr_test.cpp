// WarmupCosineLR's edge cases: the peak is each group's own lr, the constructor's one-element quirk,
// DeepSpeed's own checkpoints (lrs[0] = lr * wmin, lrs[W-1] = lr, lrs[T-1] = lr * cmin), the missing
// clamp past T, and total == W, refused here where DeepSpeed divides by zero mid-run.
#include <gtest/gtest.h>

#include <array>

#include "scheduler_test_support.hpp"

namespace tandem::test {
namespace {

constexpr DescriptorFn kCosine = &tandem_module_descriptor_warmup_cosine_lr;

TEST(WarmupCosineLR, CheckpointsOfDeepSpeedsTest) {
  constexpr std::array<double, 1> lr = {0.003};
  for (const int warmup : {10, 15, 19, 33}) {
    const int total = 4 * warmup;
    const std::string params = R"({"warmup_min_ratio": 0.1, "cos_min_ratio": 0.01, "total_num_steps": )" +
                               std::to_string(total) + R"(, "warmup_num_steps": )" + std::to_string(warmup) + "}";
    LrScheduler s = make_scheduler(kCosine, params, lr);
    std::vector<double> lrs;  // lrs[i] is iteration i, as DeepSpeed's test reads them after each step
    for (int it = 0; it < total; ++it) {
      s.step();
      lrs.push_back(s.values().lrs[0]);
    }
    EXPECT_NEAR(lrs[0], 0.003 * 0.1, 1e-15) << params;
    EXPECT_NEAR(lrs[warmup - 1], 0.003, 1e-15) << params;
    EXPECT_NEAR(lrs[total - 1], 0.003 * 0.01, 1e-15) << params;
    for (int it = 1; it < warmup; ++it) EXPECT_GT(lrs[it], lrs[it - 1]) << params << " rising at " << it;
    for (int it = warmup; it < total; ++it) EXPECT_LT(lrs[it], lrs[it - 1]) << params << " falling at " << it;
  }
}

TEST(WarmupCosineLR, PeakIsEachGroupsOwnLr) {
  constexpr std::array<double, 3> lrs = {0.1, 0.02, 0.003};
  LrScheduler s = make_scheduler(kCosine, R"({"total_num_steps": 60, "warmup_num_steps": 10})", lrs);
  for (int k = 0; k < 10; ++k) s.step();  // iteration 9 = W - 1: the peak (log warm-up)
  const std::vector<double> at_peak = s.values().lrs;
  for (size_t g = 0; g < lrs.size(); ++g) EXPECT_DOUBLE_EQ(at_peak[g], lrs[g]);
  for (int k = 0; k < 20; ++k) s.step();
  const std::vector<double> later = s.values().lrs;
  // Every group follows the same ratio of its own peak.
  EXPECT_DOUBLE_EQ(later[1] / lrs[1], later[0] / lrs[0]);
  EXPECT_DOUBLE_EQ(later[2] / lrs[2], later[0] / lrs[0]);
}

TEST(WarmupCosineLR, ConstructionSetsOnlyTheFirstGroupToZero) {
  // DeepSpeed's get_lr() returns [0.0] before the first step, and update_lr zips it with the groups.
  constexpr std::array<double, 3> lrs = {0.1, 0.02, 0.003};
  LrScheduler s = make_scheduler(kCosine, R"({"total_num_steps": 60, "warmup_num_steps": 10,
                                              "warmup_min_ratio": 0.5})",
                                 lrs);
  EXPECT_EQ(s.values().lrs, (std::vector<double>{0.0, 0.02, 0.003}));
  s.step();  // iteration 0: every group at warmup_min_ratio of its lr
  EXPECT_EQ(s.values().lrs, (std::vector<double>{0.05, 0.01, 0.0015}));
}

TEST(WarmupCosineLR, NoClampPastTotal) {
  constexpr std::array<double, 1> lr = {0.01};
  LrScheduler s = make_scheduler(kCosine, R"({"total_num_steps": 40, "warmup_num_steps": 10, "cos_min_ratio": 0})", lr);
  for (int k = 0; k <= 39; ++k) s.step();  // iteration 39 = T - 1: the bottom
  const double bottom = s.values().lrs[0];
  EXPECT_NEAR(bottom, 0.0, 1e-18);
  for (int k = 0; k < 10; ++k) s.step();
  EXPECT_GT(s.values().lrs[0], 1e-5) << "DeepSpeed's cosine rises again past total_num_steps";
}

TEST(WarmupCosineLR, TotalEqualToWarmupIsRefused) {
  for (const char* params : {R"({"total_num_steps": 100, "warmup_num_steps": 100})",
                             R"({"total_num_steps": 2, "warmup_num_steps": 0})",
                             R"({"total_num_steps": 2, "warmup_num_steps": 1})"}) {
    try {
      create_static_instance(kCosine, params);
      ADD_FAILURE() << "accepted " << params;
    } catch (const ModuleError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("total_num_steps"), std::string::npos) << message;
      EXPECT_NE(message.find("W = max(2, warmup_num_steps)"), std::string::npos) << message;
      EXPECT_NE(message.find(static_module_file(kCosine)), std::string::npos) << message;
    }
  }
  EXPECT_NO_THROW(create_static_instance(kCosine, R"({"total_num_steps": 3, "warmup_num_steps": 1})"));
}

}  // namespace
}  // namespace tandem::test
