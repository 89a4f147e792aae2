// DeepSpeed's optimizer types through a whole engine: "Adam" in both of its modes against the
// formula computed in double, and Lamb and Lion training under ZeRO (the module-level references
// are in tests/optimizer; these check that a config's type reaches the right module with the right
// mode, and that each group gets its weight decay).
#include <gtest/gtest.h>

#include <cmath>

#include "engine_support.hpp"
#include "tandem/safetensors.hpp"

namespace tandem {
namespace {

using test::prepare_tiny;
using test::random_batch;

constexpr double kLr = 0.01, kBeta2 = 0.99, kEps = 1e-8, kWeightDecay = 0.5;

// beta1 = 0 makes the first moment after a step the gradient the optimizer used, exactly
// (0 * m + 1 * g), so the test reads each step's gradient from the engine's own state.
DeepSpeedConfig adam_config(const std::string& type, double weight_decay, const std::string& mode) {
  return load_config_text(R"({"train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": 1,
      "gradient_clipping": 0, "zero_optimization": {"stage": 0},
      "optimizer": {"type": ")" + type + R"(", "params": {"lr": 0.01, "betas": [0.0, 0.99], "eps": 1e-8,
      "weight_decay": )" + std::to_string(weight_decay) + mode + "}}}",
                          "<" + type + ">");
}

// One rank's master weights of both groups (group 0 decays, group 1 does not) and Adam's state.
struct AdamState {
  std::vector<float> master[2], exp_avg, exp_avg_sq;
};
AdamState state_of(const Engine& e) {
  const auto dir = test::temp_dir("adam-modes");
  e.save(dir);
  const safetensors::File f = safetensors::File::open(dir / "rank0.safetensors");
  AdamState s{{f.read_f32("master.0"), f.read_f32("master.1")}, f.read_f32("optimizer.exp_avg"),
              f.read_f32("optimizer.exp_avg_sq")};
  std::filesystem::remove_all(dir);
  return s;
}

std::vector<TokenBatch> batch(int step) { return {random_batch(2, 8, 32, 300 + static_cast<uint64_t>(step))}; }

// Trains 3 steps; at each, checks the engine's new weights and second moment against DeepSpeed's
// formula in double, from the weights before the step and the gradient the step used.
void expect_adam_steps(Engine& engine, bool decoupled) {
  std::vector<double> v_ref;
  for (int t = 1; t <= 3; ++t) {
    SCOPED_TRACE("step " + std::to_string(t));
    const AdamState before = state_of(engine);
    const std::vector<TokenBatch> b = batch(t);
    engine.forward(b);
    engine.backward(LossSpec{&b});
    ASSERT_TRUE(engine.step().stepped);
    const AdamState after = state_of(engine);
    const size_t n0 = before.master[0].size(), n = n0 + before.master[1].size();
    ASSERT_EQ(after.exp_avg.size(), n);
    if (v_ref.empty()) v_ref.assign(n, 0.0);
    const double bc2 = 1.0 - std::pow(kBeta2, t);
    double largest_step = 0;
    for (size_t i = 0; i < n; ++i) {
      const bool decays = i < n0;
      const double p = decays ? before.master[0][i] : before.master[1][i - n0];
      const double g = after.exp_avg[i];  // with the L2 term already in it in Adam's mode
      v_ref[i] = kBeta2 * v_ref[i] + (1 - kBeta2) * g * g;
      ASSERT_NEAR(after.exp_avg_sq[i], v_ref[i], 1e-6 * v_ref[i] + 1e-30) << i;
      double p_ref = p;
      if (decoupled && decays) p_ref *= 1 - kLr * kWeightDecay;
      p_ref -= kLr * g / (std::sqrt(v_ref[i]) / std::sqrt(bc2) + kEps);
      const double got = decays ? after.master[0][i] : after.master[1][i - n0];
      ASSERT_NEAR(got, p_ref, 1e-6 * std::max(1.0, std::abs(p))) << i << (decays ? " (decays)" : "");
      largest_step = std::max(largest_step, std::abs(got - p));
    }
    EXPECT_GT(largest_step, 0.5 * kLr);  // the step moved the weights, by about lr
  }
}

TEST(OptimizerTypes, AdamWithAdamWModeIsDecoupledDecayAsDeepSpeedsFormulaInDouble) {
  Prepared p = prepare_tiny(adam_config("Adam", kWeightDecay, ""), 1, 2);  // adam_w_mode defaults to true
  EXPECT_EQ(p.engine()->optimizer_module(), "adamw");
  expect_adam_steps(*p.engine(), /*decoupled=*/true);
}

TEST(OptimizerTypes, AdamWithoutAdamWModeAddsTheDecayToTheGradientAsDeepSpeedsFormulaInDouble) {
  Prepared l2 = prepare_tiny(adam_config("Adam", kWeightDecay, R"(, "adam_w_mode": false)"), 1, 2);
  // The first step's gradient is the raw one plus wd * p in the decaying group only: compare with
  // the same engine without decay, whose first moment is the raw gradient.
  Prepared raw = prepare_tiny(adam_config("Adam", 0.0, R"(, "adam_w_mode": false)"), 1, 2);
  const AdamState start = state_of(*l2.engine());
  const std::vector<TokenBatch> b = batch(0);
  for (Prepared* p : {&l2, &raw}) {
    p->engine()->forward(b);
    p->engine()->backward(LossSpec{&b});
    p->engine()->step();
  }
  const AdamState with_l2 = state_of(*l2.engine()), without = state_of(*raw.engine());
  const size_t n0 = start.master[0].size();
  for (size_t i = 0; i < with_l2.exp_avg.size(); ++i) {
    const double l2_term = i < n0 ? kWeightDecay * start.master[0][i] : 0.0;
    // fp32 rounds the sum: a tolerance of a few ulps of the terms (a missing L2 term is wd * p, far larger).
    ASSERT_NEAR(with_l2.exp_avg[i], without.exp_avg[i] + l2_term,
                1e-6 * (std::abs(without.exp_avg[i]) + std::abs(l2_term)) + 1e-9) << i;
  }
  Prepared fresh = prepare_tiny(adam_config("Adam", kWeightDecay, R"(, "adam_w_mode": false)"), 1, 2);
  expect_adam_steps(*fresh.engine(), /*decoupled=*/false);
}

TEST(OptimizerTypes, AdamWIgnoresAnAdamWModeOfFalse) {
  // DeepSpeed: "AdamW" is decoupled whatever adam_w_mode says.
  Prepared p = prepare_tiny(adam_config("AdamW", kWeightDecay, R"(, "adam_w_mode": false)"), 1, 2);
  expect_adam_steps(*p.engine(), /*decoupled=*/true);
}

// A few steps of a config's optimizer on 2 thread-ranks; the losses and the weights after.
struct TrainedRun {
  std::vector<double> losses;
  std::vector<std::pair<std::string, std::vector<float>>> weights;
  std::string module;
};
TrainedRun train(const std::string& optimizer_block, int stage, const std::string& extra = "") {
  const DeepSpeedConfig config = load_config_text(
      R"({"train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": 1, "gradient_clipping": 1.0,
          "zero_optimization": {"stage": )" + std::to_string(stage) + "}, \"optimizer\": " + optimizer_block + extra + "}",
      "<optimizer-run>");
  Prepared p = prepare_tiny(config, 2, 2);
  TrainedRun out;
  out.module = p.engine()->optimizer_module();
  const std::vector<TokenBatch> same{random_batch(2, 8, 32, 41), random_batch(2, 8, 32, 42)};
  for (int step = 0; step < 8; ++step) {
    p.engine()->forward(same);
    p.engine()->backward(LossSpec{&same});
    out.losses.push_back(p.engine()->step().loss);
  }
  out.weights = p.engine()->parameters();
  return out;
}

bool has_zero2() {
  ModuleRegistry registry;
  registry.scan(ModuleRegistry::default_search_path());
  return registry.find(ModuleKind::Stage, "zero2") != nullptr;
}

TEST(OptimizerTypes, LionTrainsAndZeroTwoGivesTheBitsOfZeroZero) {
  const std::string lion = R"({"type": "Lion", "params": {"lr": 0.01, "weight_decay": 0.1}})";
  const TrainedRun zero0 = train(lion, 0);
  EXPECT_EQ(zero0.module, "fused_lion");
  EXPECT_LT(zero0.losses.back(), zero0.losses.front() - 0.1);  // one batch, being learned
  if (!has_zero2()) GTEST_SKIP() << "no zero2 module in this build";
  const TrainedRun zero2 = train(lion, 2);  // Lion is elementwise: partitioning changes no bit
  EXPECT_EQ(zero2.losses, zero0.losses);
  EXPECT_EQ(zero2.weights, zero0.weights);
}

TEST(OptimizerTypes, LambTrainsUnderZeroWithTheUntestedOptimizerFlagAndIsRefusedWithoutIt) {
  const std::string lamb = R"({"type": "Lamb", "params": {"lr": 0.05, "weight_decay": 0.01}})";
  const TrainedRun zero0 = train(lamb, 0);  // no flag needed without ZeRO
  EXPECT_EQ(zero0.module, "lamb");
  EXPECT_LT(zero0.losses.back(), zero0.losses.front() - 0.1);
  if (!has_zero2()) GTEST_SKIP() << "no zero2 module in this build";
  EXPECT_THROW(train(lamb, 2), ConfigError);
  const TrainedRun zero2 = train(lamb, 2, R"(, "zero_allow_untested_optimizer": true)");
  EXPECT_LT(zero2.losses.back(), zero2.losses.front() - 0.1);
  // Under ZeRO the trust ratio is over each rank's partition of a group, not each parameter, as
  // DeepSpeed hands FusedLamb its flat partition: the runs differ after the first step.
  EXPECT_EQ(zero2.losses.front(), zero0.losses.front());
  EXPECT_NE(zero2.weights, zero0.weights);
}

}  // namespace
}  // namespace tandem
