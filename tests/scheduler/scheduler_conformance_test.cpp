// The scheduler conformance suite (STYLE.md 10): every scheduler module joins with one line in
// kSchedulerCases, naming its static descriptor, a config's params and the reference formula (written
// from DeepSpeed's code in reference_schedules.cpp). Each case is checked over many iterations
// against the reference and for the properties every schedule must have: the values at iteration -1
// are those at construction, step() advances by one, the state round-trips, a corrupt state and a
// per-group list of the wrong length are refused.
#include <gtest/gtest.h>

#include <array>
#include <ostream>
#include <string>
#include <vector>

#include "reference_schedules.hpp"
#include "scheduler_test_support.hpp"

namespace tandem::test {
namespace {

struct SchedulerCase {
  const char* name;  // the test's name: the DeepSpeed type and what the case is about
  DescriptorFn descriptor;
  const char* params;  // the config's "params"
  ReferenceFn reference;
  // The same schedule with per-group lists for 3 groups, or nullptr if it has no per-group
  // parameter (WarmupCosineLR scales each group's own lr instead).
  const char* per_group_params = nullptr;
};

// gtest names the case in its output instead of dumping its bytes.
void PrintTo(const SchedulerCase& c, std::ostream* out) { *out << c.name; }

// clang-format off
const SchedulerCase kSchedulerCases[] = {
  {"WarmupLR_log", &tandem_module_descriptor_warmup_lr, R"({"warmup_min_lr": 1e-4, "warmup_max_lr": 0.01, "warmup_num_steps": 40})", &reference_warmup_lr, R"({"warmup_min_lr": [1e-4, 2e-4, 0], "warmup_max_lr": [0.01, 0.02, 0.005], "warmup_num_steps": 40})"},
  {"WarmupLR_linear", &tandem_module_descriptor_warmup_lr, R"({"warmup_min_lr": 1e-4, "warmup_max_lr": 0.01, "warmup_num_steps": 33, "warmup_type": "linear"})", &reference_warmup_lr, R"({"warmup_min_lr": [1e-4, 2e-4, 0], "warmup_max_lr": 0.02, "warmup_num_steps": 33, "warmup_type": "linear"})"},
  {"WarmupLR_defaults", &tandem_module_descriptor_warmup_lr, "{}", &reference_warmup_lr},
  {"WarmupLR_one_warmup_step", &tandem_module_descriptor_warmup_lr, R"({"warmup_max_lr": 0.003, "warmup_num_steps": 1, "warmup_type": "linear"})", &reference_warmup_lr},
  {"WarmupDecayLR_log", &tandem_module_descriptor_warmup_decay_lr, R"({"total_num_steps": 120, "warmup_min_lr": 0.001, "warmup_max_lr": 0.01, "warmup_num_steps": 30})", &reference_warmup_decay_lr, R"({"total_num_steps": 120, "warmup_min_lr": [0.001, 0, 0.002], "warmup_max_lr": [0.01, 0.03, 0.004], "warmup_num_steps": 30})"},
  {"WarmupDecayLR_linear_total_below_warmup", &tandem_module_descriptor_warmup_decay_lr, R"({"total_num_steps": 20, "warmup_min_lr": 0.001, "warmup_max_lr": 0.01, "warmup_num_steps": 30, "warmup_type": "linear"})", &reference_warmup_decay_lr},
  {"WarmupDecayLR_total_equals_warmup", &tandem_module_descriptor_warmup_decay_lr, R"({"total_num_steps": 25, "warmup_num_steps": 25})", &reference_warmup_decay_lr},
  {"WarmupCosineLR_log", &tandem_module_descriptor_warmup_cosine_lr, R"({"total_num_steps": 150, "warmup_num_steps": 30, "warmup_min_ratio": 0.1, "cos_min_ratio": 0.01})", &reference_warmup_cosine_lr},
  {"WarmupCosineLR_linear_default_ratios", &tandem_module_descriptor_warmup_cosine_lr, R"({"total_num_steps": 100, "warmup_num_steps": 10, "warmup_type": "linear"})", &reference_warmup_cosine_lr},
  {"WarmupCosineLR_total_below_warmup", &tandem_module_descriptor_warmup_cosine_lr, R"({"total_num_steps": 20, "warmup_num_steps": 40, "cos_min_ratio": 0.2})", &reference_warmup_cosine_lr},
  {"OneCycle_momentum_and_decay", &tandem_module_descriptor_one_cycle, R"({"cycle_min_lr": 0.001, "cycle_max_lr": 0.01, "cycle_first_step_size": 20, "cycle_second_step_size": 30, "decay_step_size": 10, "decay_lr_rate": 0.3, "decay_mom_rate": 0.05, "cycle_min_mom": 0.85, "cycle_max_mom": 0.95})", &reference_one_cycle, R"({"cycle_min_lr": [0.001, 0.002, 0.0005], "cycle_max_lr": [0.01, 0.02, 0.004], "cycle_first_step_size": 20, "cycle_second_step_size": 30, "decay_step_size": 10, "decay_lr_rate": 0.3, "decay_mom_rate": 0.05, "cycle_min_mom": [0.85, 0.8, 0.7], "cycle_max_mom": [0.95, 0.9, 0.99]})"},
  {"OneCycle_no_momentum_no_decay", &tandem_module_descriptor_one_cycle, R"({"cycle_min_lr": 0.0001, "cycle_max_lr": 0.001, "cycle_first_step_size": 15, "cycle_momentum": false})", &reference_one_cycle},
  {"OneCycle_default_step_sizes", &tandem_module_descriptor_one_cycle, R"({"cycle_min_lr": 0.0001, "cycle_max_lr": 0.001})", &reference_one_cycle},
  {"LRRangeTest_continuous", &tandem_module_descriptor_lr_range_test, R"({"lr_range_test_min_lr": 1e-4, "lr_range_test_step_size": 7, "lr_range_test_step_rate": 0.5})", &reference_lr_range_test, R"({"lr_range_test_min_lr": [1e-4, 3e-4, 1e-5], "lr_range_test_step_size": 7, "lr_range_test_step_rate": 0.5})"},
  {"LRRangeTest_staircase", &tandem_module_descriptor_lr_range_test, R"({"lr_range_test_min_lr": 1e-4, "lr_range_test_step_size": 10, "lr_range_test_step_rate": 2, "lr_range_test_staircase": true})", &reference_lr_range_test},
  {"LRRangeTest_defaults", &tandem_module_descriptor_lr_range_test, "{}", &reference_lr_range_test},
};
// clang-format on

// Iterations each case is checked over: past every phase of every case above (the defaults' 1000
// warm-up steps included), yet milliseconds of work.
constexpr int64_t kHorizon = 1200;
// The lrs the optimizer was configured with (WarmupCosineLR's peaks).
constexpr std::array<double, 1> kOneGroup = {0.05};
constexpr std::array<double, 3> kThreeGroups = {0.1, 0.02, 0.003};

class SchedulerConformance : public ::testing::TestWithParam<SchedulerCase> {
 protected:
  const SchedulerCase& c() const { return GetParam(); }
  LrScheduler make(std::span<const double> base_lrs, bool has_betas = true) const {
    return make_scheduler(c().descriptor, c().params, base_lrs, has_betas);
  }
  SchedulerValues reference(std::span<const double> base_lrs, bool has_betas, int64_t it,
                            const char* params = nullptr) const {
    return c().reference(parse_params(params ? params : c().params), base_lrs, has_betas, it);
  }
};

TEST_P(SchedulerConformance, MatchesReferenceOverManySteps) {
  for (const bool has_betas : {true, false}) {
    LrScheduler s = make(kOneGroup, has_betas);
    for (int64_t it = -1; it <= kHorizon; ++it) {
      ASSERT_EQ(s.iteration(), it);
      ASSERT_TRUE(values_close(s.values(), reference(kOneGroup, has_betas, it)))
          << "iteration " << it << ", has_betas " << has_betas;
      s.step();
    }
  }
}

TEST_P(SchedulerConformance, PerGroupValuesMatchReference) {
  const char* params = c().per_group_params ? c().per_group_params : c().params;
  LrScheduler s = make_scheduler(c().descriptor, params, kThreeGroups, true);
  for (int64_t it = -1; it <= kHorizon; ++it) {
    ASSERT_TRUE(values_close(s.values(), reference(kThreeGroups, true, it, params))) << "iteration " << it;
    s.step();
  }
}

TEST_P(SchedulerConformance, ValuesAtConstructionAreIterationMinusOne) {
  const LrScheduler s = make(kOneGroup);
  EXPECT_EQ(s.iteration(), -1);
  EXPECT_TRUE(values_close(s.values(), reference(kOneGroup, true, -1)));
}

TEST_P(SchedulerConformance, StepAdvancesTheIterationByOne) {
  LrScheduler s = make(kOneGroup);
  for (int64_t k = 0; k < 5; ++k) {
    const int64_t before = s.iteration();
    s.step();
    EXPECT_EQ(s.iteration(), before + 1);
  }
  EXPECT_EQ(s.iteration(), 4);
}

TEST_P(SchedulerConformance, ScheduleTableGivesWhatEachOptimizerStepUses) {
  // DeepSpeed's engine: optimizer step n (1-based) runs with the values of iteration n - 2.
  LrScheduler s = make(kOneGroup);
  const std::vector<ScheduleRow> rows = schedule_table(s, 300);
  ASSERT_EQ(rows.size(), 300u);
  for (size_t i = 0; i < rows.size(); ++i) {
    const int64_t n = static_cast<int64_t>(i) + 1;
    ASSERT_EQ(rows[i].step, n);
    ASSERT_TRUE(values_close(rows[i].values, reference(kOneGroup, true, n - 2))) << "optimizer step " << n;
  }
  EXPECT_EQ(s.iteration(), 299);
}

TEST_P(SchedulerConformance, LastBatchIterationParameterStartsThere) {
  const std::string params = with_param(c().params, "last_batch_iteration", json::Value::integer(25));
  LrScheduler s = make_scheduler(c().descriptor, params, kOneGroup, true);
  for (int64_t it = 25; it < 60; ++it) {
    ASSERT_EQ(s.iteration(), it);
    ASSERT_TRUE(values_close(s.values(), reference(kOneGroup, true, it))) << "iteration " << it;
    s.step();
  }
}

TEST_P(SchedulerConformance, SavedStateContinuesIdenticallyInAFreshInstance) {
  for (const int64_t saved_at : {int64_t{-1}, int64_t{0}, int64_t{36}, int64_t{211}}) {
    LrScheduler original = make(kThreeGroups);
    while (original.iteration() < saved_at) original.step();
    const std::vector<std::byte> state = original.save_state();
    LrScheduler restored = make(kThreeGroups);
    restored.load_state(state);
    ASSERT_EQ(restored.iteration(), saved_at);
    for (int k = 0; k < 50; ++k) {
      const SchedulerValues a = original.values(), b = restored.values();
      ASSERT_EQ(a.lrs, b.lrs) << "saved at " << saved_at << ", " << k << " steps later";
      ASSERT_EQ(a.momenta, b.momenta);
      ASSERT_EQ(a.second_betas, b.second_betas);
      original.step();
      restored.step();
    }
  }
}

std::vector<std::byte> bytes(std::string_view text) {
  std::vector<std::byte> out;
  for (const char ch : text) out.push_back(static_cast<std::byte>(ch));
  return out;
}

TEST_P(SchedulerConformance, CorruptStateIsRefusedAndChangesNothing) {
  LrScheduler s = make(kOneGroup);
  for (int k = 0; k < 7; ++k) s.step();
  const SchedulerValues before = s.values();
  const std::string corrupt[] = {"",
                                 "garbage",
                                 "last_batch_iteration=",
                                 "last_batch_iteration=-2",
                                 "last_batch_iteration=12x",
                                 "last_batch_iteration= 12",
                                 "last_batch_iteration=99999999999999999999999",
                                 std::string("last_batch_iteration=3\0", 23),
                                 "{\"last_batch_iteration\": 3}"};
  for (const std::string& state : corrupt) {
    try {
      s.load_state(bytes(state));
      ADD_FAILURE() << "accepted the state \"" << state << "\"";
    } catch (const ModuleError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(kTestLabel), std::string::npos) << message;
      EXPECT_NE(message.find(static_module_file(c().descriptor)), std::string::npos) << message;
      EXPECT_NE(message.find("load_state failed"), std::string::npos) << message;
      EXPECT_NE(message.find("INVALID_ARGUMENT"), std::string::npos) << message;
    }
    EXPECT_EQ(s.iteration(), 6);
    EXPECT_EQ(s.values().lrs, before.lrs);
  }
}

// Only the cases that have per-group lists (see kPerGroupCases below).
class SchedulerPerGroupConformance : public SchedulerConformance {};

TEST_P(SchedulerPerGroupConformance, ListOfTheWrongLengthIsRefused) {
  ASSERT_NE(c().per_group_params, nullptr);
  LrScheduler s(create_static_instance(c().descriptor, c().per_group_params));
  constexpr std::array<double, 2> two_groups = {0.1, 0.2};
  try {
    s.bind(two_groups, true);
    FAIL() << "bound 3-element lists to 2 groups";
  } catch (const ModuleError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("expected 2 values for"), std::string::npos) << message;
    EXPECT_NE(message.find("got 3"), std::string::npos) << message;
    EXPECT_NE(message.find(kTestLabel), std::string::npos) << message;
    EXPECT_NE(message.find(static_module_file(c().descriptor)), std::string::npos) << message;
  }
  EXPECT_FALSE(s.bound());
}

std::vector<SchedulerCase> per_group_cases() {
  std::vector<SchedulerCase> out;
  for (const SchedulerCase& c : kSchedulerCases)
    if (c.per_group_params != nullptr) out.push_back(c);
  return out;
}

std::string case_name(const ::testing::TestParamInfo<SchedulerCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(DeepSpeed, SchedulerConformance, ::testing::ValuesIn(kSchedulerCases), case_name);
INSTANTIATE_TEST_SUITE_P(DeepSpeed, SchedulerPerGroupConformance, ::testing::ValuesIn(per_group_cases()), case_name);

}  // namespace
}  // namespace tandem::test
