// OneCycle's edge cases: where the first and second step sizes put the peak and the trough, the
// momentum moving inversely with beta2 overwritten by 0.99, the constructor's minimum momentum,
// the decay phase, cycle_momentum false, an optimizer without betas, and the unused stair counts.
#include <gtest/gtest.h>

#include <array>

#include "scheduler_test_support.hpp"

namespace tandem::test {
namespace {

constexpr DescriptorFn kOneCycle = &tandem_module_descriptor_one_cycle;
constexpr std::array<double, 1> kGroup = {0.05};

// Values at iterations -1 .. iterations - 1 (index i is iteration i - 1).
std::vector<SchedulerValues> run(const std::string& params, int64_t iterations, bool has_betas = true) {
  LrScheduler s = make_scheduler(kOneCycle, params, kGroup, has_betas);
  std::vector<SchedulerValues> out;
  for (int64_t it = -1; it < iterations; ++it, s.step()) out.push_back(s.values());
  return out;
}

TEST(OneCycle, FirstAndSecondStepSizesPlaceThePeakAndTheTrough) {
  const auto v = run(R"({"cycle_min_lr": 0.001, "cycle_max_lr": 0.011, "cycle_first_step_size": 10,
                          "cycle_second_step_size": 30})",
                     45);
  EXPECT_EQ(v[0].lrs[0], 0.001);  // construction
  // Rising for 10 iterations to the peak at iteration 9 (b = it + 1 = F), falling for 30 to iteration 39.
  for (int it = 0; it <= 9; ++it) EXPECT_GT(v[it + 1].lrs[0], v[it].lrs[0]) << it;
  EXPECT_DOUBLE_EQ(v[9 + 1].lrs[0], 0.011);
  EXPECT_NEAR(v[0 + 1].lrs[0], 0.001 + 0.01 * 0.1, 1e-15);  // one tenth up
  for (int it = 10; it <= 39; ++it) EXPECT_LT(v[it + 1].lrs[0], v[it].lrs[0]) << it;
  EXPECT_NEAR(v[10 + 1].lrs[0], 0.011 - 0.01 / 30.0, 1e-15);  // one thirtieth down
  EXPECT_DOUBLE_EQ(v[39 + 1].lrs[0], 0.001);
  // Past the cycle, with no decay: the minimum lr and the maximum momentum.
  EXPECT_EQ(v[44 + 1].lrs[0], 0.001);
  EXPECT_EQ(v[44 + 1].momenta->at(0), 0.9);
}

TEST(OneCycle, SecondStepSizeDefaultsToTheFirst) {
  const std::string explicit_sizes = R"({"cycle_min_lr": 0.001, "cycle_max_lr": 0.01, "cycle_first_step_size": 12,
                                         "cycle_second_step_size": 12})";
  const std::string defaulted = R"({"cycle_min_lr": 0.001, "cycle_max_lr": 0.01, "cycle_first_step_size": 12})";
  const auto a = run(explicit_sizes, 40), b = run(defaulted, 40);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].lrs, b[i].lrs) << i;
    EXPECT_EQ(a[i].momenta, b[i].momenta) << i;
  }
}

TEST(OneCycle, MomentumMovesInverselyAndBeta2IsOverwritten) {
  const auto v = run(R"({"cycle_min_lr": 0.001, "cycle_max_lr": 0.01, "cycle_first_step_size": 10,
                          "cycle_min_mom": 0.85, "cycle_max_mom": 0.95})",
                     25);
  // Construction: DeepSpeed sets betas = (cycle_min_mom, 0.99), not the formula's maximum.
  ASSERT_TRUE(v[0].momenta.has_value());
  EXPECT_EQ(v[0].momenta->at(0), 0.85);
  for (const SchedulerValues& values : v) {
    ASSERT_TRUE(values.second_betas.has_value());
    EXPECT_EQ(values.second_betas->at(0), 0.99);
  }
  EXPECT_NEAR(v[0 + 1].momenta->at(0), 0.95 - 0.1 * 0.1, 1e-15);  // iteration 0: just below the maximum
  EXPECT_DOUBLE_EQ(v[9 + 1].momenta->at(0), 0.85);                  // the lr's peak is the momentum's trough
  EXPECT_DOUBLE_EQ(v[19 + 1].momenta->at(0), 0.95);
  for (int it = 1; it <= 9; ++it) EXPECT_LT(v[it + 1].momenta->at(0), v[it].momenta->at(0)) << it;
  for (int it = 10; it <= 19; ++it) EXPECT_GT(v[it + 1].momenta->at(0), v[it].momenta->at(0)) << it;
}

TEST(OneCycle, DecayPhase) {
  // N = 20; decay intervals of 5 iterations after it: d = it - N + 1.
  const auto v = run(R"({"cycle_min_lr": 0.002, "cycle_max_lr": 0.01, "cycle_first_step_size": 10,
                          "decay_step_size": 5, "decay_lr_rate": 0.5, "decay_mom_rate": 0.02})",
                     60);
  for (const int it : {20, 24, 30, 59}) {
    const double k = (it - 20 + 1) / 5.0;
    EXPECT_NEAR(v[it + 1].lrs[0], 0.002 / (1.0 + 0.5 * k), 1e-15) << it;
    EXPECT_NEAR(v[it + 1].momenta->at(0), 0.9 * (1.0 + 0.02 * k), 1e-15) << it;
  }
  // decay_step_size 0 turns both decays off whatever the rates.
  const auto off = run(R"({"cycle_min_lr": 0.002, "cycle_max_lr": 0.01, "cycle_first_step_size": 10,
                            "decay_lr_rate": 0.5, "decay_mom_rate": 0.02})",
                       40);
  EXPECT_EQ(off[35 + 1].lrs[0], 0.002);
  EXPECT_EQ(off[35 + 1].momenta->at(0), 0.9);
  // A zero rate turns off its own decay only.
  const auto lr_only = run(R"({"cycle_min_lr": 0.002, "cycle_max_lr": 0.01, "cycle_first_step_size": 10,
                                "decay_step_size": 5, "decay_lr_rate": 0.5})",
                           40);
  EXPECT_LT(lr_only[35 + 1].lrs[0], 0.002);
  EXPECT_EQ(lr_only[35 + 1].momenta->at(0), 0.9);
}

TEST(OneCycle, NoMomentumWhenTurnedOffOrWithoutBetas) {
  const std::string cycling = R"({"cycle_min_lr": 0.001, "cycle_max_lr": 0.01, "cycle_first_step_size": 10})";
  const auto off = run(with_param(cycling, "cycle_momentum", json::Value::boolean(false)), 30);
  const auto no_betas = run(cycling, 30, /*has_betas=*/false);
  const auto on = run(cycling, 30);
  for (size_t i = 0; i < on.size(); ++i) {
    EXPECT_FALSE(off[i].momenta.has_value());
    EXPECT_FALSE(off[i].second_betas.has_value());
    EXPECT_FALSE(no_betas[i].momenta.has_value());
    EXPECT_FALSE(no_betas[i].second_betas.has_value());
    // The lr does not depend on the momentum.
    EXPECT_EQ(off[i].lrs, on[i].lrs);
    EXPECT_EQ(no_betas[i].lrs, on[i].lrs);
  }
}

TEST(OneCycle, StairCountsAreAcceptedAndUnused) {
  const std::string plain = R"({"cycle_min_lr": 0.001, "cycle_max_lr": 0.01, "cycle_first_step_size": 12})";
  const std::string stairs = with_param(with_param(plain, "cycle_first_stair_count", json::Value::integer(3)),
                                        "cycle_second_stair_count", json::Value::integer(4));
  const auto a = run(plain, 40), b = run(stairs, 40);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].lrs, b[i].lrs) << i;
}

TEST(OneCycle, RefusesWhatDeepSpeedWouldDivideByZeroOn) {
  struct Bad {
    const char* params;
    const char* names;
  };
  for (const Bad& bad : {Bad{R"({"cycle_max_lr": 0.01})", "cycle_min_lr"},
                         Bad{R"({"cycle_min_lr": 0.01})", "cycle_max_lr"},
                         Bad{R"({"cycle_min_lr": 0.001, "cycle_max_lr": 0.01, "cycle_first_step_size": 0})",
                             "cycle_first_step_size"},
                         Bad{R"({"cycle_min_lr": 0.001, "cycle_max_lr": 0.01, "cycle_second_step_size": -2})",
                             "cycle_second_step_size"},
                         Bad{R"({"cycle_min_lr": 0.001, "cycle_max_lr": 0.01, "decay_lr_rate": -1})",
                             "decay_lr_rate"}}) {
    try {
      create_static_instance(kOneCycle, bad.params);
      ADD_FAILURE() << "accepted " << bad.params;
    } catch (const ModuleError& e) {
      EXPECT_NE(std::string(e.what()).find(bad.names), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace tandem::test
