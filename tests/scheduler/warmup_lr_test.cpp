// WarmupLR's edge cases: W = max(2, warmup_num_steps), log vs linear, the first two steps at the
// minimum, the defaults, and a warmup_type DeepSpeed would silently replace.
#include <gtest/gtest.h>

#include <array>
#include <cmath>

#include "scheduler_test_support.hpp"

namespace tandem::test {
namespace {

constexpr std::array<double, 1> kGroup = {0.05};

std::vector<double> lrs_over(DescriptorFn d, const std::string& params, int64_t iterations) {
  LrScheduler s = make_scheduler(d, params, kGroup);
  std::vector<double> out;
  for (int64_t it = -1; it < iterations; ++it, s.step()) out.push_back(s.values().lrs[0]);
  return out;
}

TEST(WarmupLR, ZeroAndOneWarmupStepsBehaveAsTwo) {
  for (const char* type : {"log", "linear"}) {
    const std::string base = std::string(R"({"warmup_min_lr": 0.001, "warmup_max_lr": 0.01, "warmup_type": ")") +
                             type + "\"}";
    const auto two = lrs_over(&tandem_module_descriptor_warmup_lr, with_param(base, "warmup_num_steps",
                                                                                json::Value::integer(2)), 10);
    for (const int steps : {0, 1}) {
      const auto lrs = lrs_over(&tandem_module_descriptor_warmup_lr,
                                with_param(base, "warmup_num_steps", json::Value::integer(steps)), 10);
      EXPECT_EQ(lrs, two) << type << " with warmup_num_steps " << steps;
    }
  }
  // W = 2, log: ln(1)/ln(2) = 0 at iteration 0, ln(2)/ln(2) = 1 at iteration 1.
  const auto log = lrs_over(&tandem_module_descriptor_warmup_lr,
                            R"({"warmup_min_lr": 0.001, "warmup_max_lr": 0.01, "warmup_num_steps": 0})", 3);
  EXPECT_DOUBLE_EQ(log[0], 0.001);  // iteration -1
  EXPECT_DOUBLE_EQ(log[1], 0.001);  // iteration 0
  EXPECT_DOUBLE_EQ(log[2], 0.01);   // iteration 1
  EXPECT_DOUBLE_EQ(log[3], 0.01);
  // W = 2, linear: 0, 1/2, then 1.
  const auto linear = lrs_over(&tandem_module_descriptor_warmup_lr,
                               R"({"warmup_min_lr": 0.001, "warmup_max_lr": 0.01, "warmup_num_steps": 1,
                                   "warmup_type": "linear"})",
                               3);
  EXPECT_DOUBLE_EQ(linear[1], 0.001);
  EXPECT_DOUBLE_EQ(linear[2], 0.0055);
  EXPECT_DOUBLE_EQ(linear[3], 0.01);
}

TEST(WarmupLR, FirstTwoOptimizerStepsRunAtTheMinimum) {
  for (const char* params : {R"({"warmup_min_lr": 0.002, "warmup_max_lr": 0.01, "warmup_num_steps": 10})",
                             R"({"warmup_min_lr": 0.002, "warmup_max_lr": 0.01, "warmup_num_steps": 10,
                                 "warmup_type": "linear"})",
                             R"({"warmup_min_lr": 0.002, "warmup_max_lr": 0.01, "warmup_num_steps": 0})"}) {
    LrScheduler s = make_scheduler(&tandem_module_descriptor_warmup_lr, params, kGroup);
    const std::vector<ScheduleRow> rows = schedule_table(s, 3);
    EXPECT_EQ(rows[0].values.lrs[0], 0.002) << params;
    EXPECT_EQ(rows[1].values.lrs[0], 0.002) << params;
    EXPECT_GT(rows[2].values.lrs[0], 0.002) << params;
  }
}

TEST(WarmupLR, LogReachesTheMaximumOneIterationBeforeLinear) {
  const std::string log = R"({"warmup_min_lr": 0.0, "warmup_max_lr": 0.01, "warmup_num_steps": 10})";
  const auto log_lrs = lrs_over(&tandem_module_descriptor_warmup_lr, log, 12);
  const auto lin_lrs = lrs_over(&tandem_module_descriptor_warmup_lr,
                                with_param(log, "warmup_type", json::Value::string("linear")), 12);
  // Index i holds iteration i - 1.
  EXPECT_DOUBLE_EQ(log_lrs[9 + 1], 0.01);               // ln(10) / ln(10)
  EXPECT_DOUBLE_EQ(lin_lrs[9 + 1], 0.01 * 9.0 / 10.0);  // 9 / 10
  EXPECT_DOUBLE_EQ(lin_lrs[10 + 1], 0.01);
  EXPECT_NEAR(log_lrs[4 + 1], 0.01 * std::log(5.0) / std::log(10.0), 1e-15);
  EXPECT_NEAR(lin_lrs[4 + 1], 0.01 * 0.4, 1e-15);
  // Log rises faster early on: it is concave.
  for (int it = 1; it < 10; ++it) EXPECT_GT(log_lrs[it + 1], lin_lrs[it + 1]) << "iteration " << it;
}

TEST(WarmupLR, DefaultsAreDeepSpeeds) {
  // warmup_min_lr 0, warmup_max_lr 0.001, warmup_num_steps 1000, warmup_type log.
  const auto defaults = lrs_over(&tandem_module_descriptor_warmup_lr, "{}", 1001);
  const auto spelled = lrs_over(
      &tandem_module_descriptor_warmup_lr,
      R"({"warmup_min_lr": 0, "warmup_max_lr": 0.001, "warmup_num_steps": 1000, "warmup_type": "log"})", 1001);
  EXPECT_EQ(defaults, spelled);
  EXPECT_EQ(defaults[0], 0.0);
  EXPECT_DOUBLE_EQ(defaults[999 + 1], 0.001);
  EXPECT_LT(defaults[998 + 1], 0.001);
}

TEST(WarmupLR, UnknownWarmupTypeIsRefusedWithItsPath) {
  // DeepSpeed logs a warning and uses "log"; tandem refuses the value with where it is.
  try {
    create_static_instance(&tandem_module_descriptor_warmup_lr, R"({"warmup_type": "cosine"})");
    FAIL() << "accepted warmup_type \"cosine\"";
  } catch (const ModuleError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("warmup_type"), std::string::npos) << message;
    EXPECT_NE(message.find("\"cosine\""), std::string::npos) << message;
    EXPECT_NE(message.find("\"log\", \"linear\""), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace tandem::test
