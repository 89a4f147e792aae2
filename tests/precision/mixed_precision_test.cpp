// Mixed precision on the CPU (DeepSpeed's "bf16" and "fp16" blocks): fp32 master weights behind
// 16-bit working parameters and gradients in every stage, and fp16's loss scaling in the engine.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "../engine/engine_support.hpp"
#include "tandem/safetensors.hpp"
#include "tandem/working_precision.hpp"

namespace tandem {
namespace {

using test::prepare_tiny;
using test::random_batch;
using test::tiny_config;

const char* kBf16 = R"(, "bf16": {"enabled": true})";
// 2^24 is far above what the tiny model's fp16 gradients survive: the first steps overflow.
const char* kFp16 = R"(, "fp16": {"enabled": true, "initial_scale_power": 24, "hysteresis": 2})";

std::vector<TokenBatch> batches_for(int micro_step, int world) {
  std::vector<TokenBatch> out;
  for (int r = 0; r < world; ++r) out.push_back(random_batch(2, 8, 32, 1000 + 10 * micro_step + r));
  return out;
}

struct Trace {
  std::vector<StepReport> reports;  // one per micro-step
  std::vector<std::pair<std::string, std::vector<float>>> params;
};

Trace train(Engine& engine, int world, int micro_steps, int first = 0) {
  Trace run;
  for (int s = first; s < first + micro_steps; ++s) {
    const auto batches = batches_for(s, world);
    engine.forward(batches);
    engine.backward(LossSpec{&batches});
    run.reports.push_back(engine.step());
  }
  run.params = engine.parameters();
  return run;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void expect_bitwise_equal(const Trace& a, const Trace& b, const std::string& what) {
  ASSERT_EQ(a.reports.size(), b.reports.size());
  for (size_t i = 0; i < a.reports.size(); ++i) {
    EXPECT_EQ(std::bit_cast<uint64_t>(a.reports[i].loss), std::bit_cast<uint64_t>(b.reports[i].loss)) << what << " micro-step " << i;
    EXPECT_EQ(a.reports[i].stepped, b.reports[i].stepped) << what << " micro-step " << i;
    EXPECT_EQ(a.reports[i].loss_scale, b.reports[i].loss_scale) << what << " micro-step " << i;
    if (a.reports[i].boundary && !a.reports[i].nonfinite) {
      EXPECT_EQ(std::bit_cast<uint64_t>(a.reports[i].grad_norm), std::bit_cast<uint64_t>(b.reports[i].grad_norm))
          << what << " micro-step " << i;
    }
  }
  ASSERT_EQ(a.params.size(), b.params.size());
  for (size_t i = 0; i < a.params.size(); ++i) EXPECT_TRUE(same_bits(a.params[i].second, b.params[i].second)) << what << " " << a.params[i].first;
}

TEST(MixedPrecision, WorkingParametersAreTheFp32MasterRoundedToBf16) {
  for (int stage : {0, 2, 3}) {
    Prepared p = prepare_tiny(tiny_config(stage, 1, 1.0, kBf16), 1, 2);
    train(*p.engine(), 1, 4);
    const auto dir = test::temp_dir("bf16-master");
    p.engine()->save(dir);
    const safetensors::File model = safetensors::File::open(dir / "model.safetensors");
    const safetensors::File shards = safetensors::File::open(dir / "rank0.safetensors");
    const json::Document manifest = json::parse_file(dir / "engine.json");
    std::vector<std::vector<float>> master{shards.read_f32("master.0"), shards.read_f32("master.1")};
    size_t finer_than_bf16 = 0, checked = 0;
    for (const json::Value& param : manifest.root.find("layout")->find("params")->items()) {
      const std::vector<float> working = model.read_f32(param.find("name")->as_string());
      const auto& group = master.at(static_cast<size_t>(param.find("group")->as_int()));
      const auto offset = static_cast<size_t>(param.find("offset")->as_int());
      for (size_t i = 0; i < working.size(); ++i) {
        const float m = group.at(offset + i);
        ASSERT_EQ(std::bit_cast<uint32_t>(working[i]), std::bit_cast<uint32_t>(sdk::round_to(TANDEM_DTYPE_BF16, m)))
            << "stage " << stage << " " << param.find("name")->as_string() << "[" << i << "]";
        finer_than_bf16 += (std::bit_cast<uint32_t>(m) & 0xffffu) != 0 ? 1 : 0;
        ++checked;
      }
    }
    // The master keeps what bf16 cannot hold (else it would not be a separate fp32 master).
    EXPECT_GT(finer_than_bf16, checked / 2) << "stage " << stage;
    std::filesystem::remove_all(dir);
  }
}

TEST(MixedPrecision, StagesOneToThreeEqualStageZeroBitForBitInBf16AndFp16) {
  for (const char* precision : {kBf16, kFp16}) {
    Prepared base = prepare_tiny(tiny_config(0, 2, 1.0, precision), 2, 2);
    const Trace zero0 = train(*base.engine(), 2, 16);
    for (int stage : {1, 2, 3}) {
      Prepared p = prepare_tiny(tiny_config(stage, 2, 1.0, precision), 2, 2);
      expect_bitwise_equal(zero0, train(*p.engine(), 2, 16),
                           std::string(precision) + " stage " + std::to_string(stage));
    }
  }
}

TEST(MixedPrecision, Bf16TracksFp32WithoutEqualingIt) {
  // One batch over and over: a loss the tiny model can bring down (random targets change each step
  // otherwise, and there is nothing to learn).
  auto memorise = [](Engine& e) {
    Trace run;
    const auto b = batches_for(0, 1);
    for (int s = 0; s < 30; ++s) {
      e.forward(b);
      e.backward(LossSpec{&b});
      run.reports.push_back(e.step());
    }
    return run;
  };
  Prepared fp32 = prepare_tiny(tiny_config(0, 1, 1.0), 1, 2);
  Prepared bf16 = prepare_tiny(tiny_config(0, 1, 1.0, kBf16), 1, 2);
  const Trace a = memorise(*fp32.engine()), b = memorise(*bf16.engine());
  size_t differing = 0;
  for (size_t i = 0; i < a.reports.size(); ++i) {
    differing += a.reports[i].loss != b.reports[i].loss ? 1 : 0;
    EXPECT_NEAR(b.reports[i].loss, a.reports[i].loss, 0.02 * a.reports[i].loss) << "step " << i;
  }
  EXPECT_GT(differing, 25u);  // bf16 rounding changes every step after the first
  EXPECT_LT(b.reports.back().loss, b.reports.front().loss - 0.3);
}

TEST(MixedPrecision, Bf16KeepsASeparateMasterAndSaysSo) {
  Prepared fp32 = prepare_tiny(tiny_config(0, 1, 1.0), 1, 2);
  Prepared bf16 = prepare_tiny(tiny_config(0, 1, 1.0, kBf16), 1, 2);
  const tandem_stage_memory m32 = fp32.engine()->memory().front(), m16 = bf16.engine()->memory().front();
  EXPECT_EQ(m32.master_bytes, 0u);
  EXPECT_EQ(m16.master_bytes, m16.param_bytes);
}

TEST(MixedPrecision, Fp16OverflowsSkipStepsLowerTheScaleAndLeaveNoTrace) {
  const std::string schedule =
      R"(, "scheduler": {"type": "WarmupLR", "params": {"warmup_num_steps": 4, "warmup_max_lr": 0.01, "warmup_type": "linear"}})";
  Prepared p = prepare_tiny(tiny_config(0, 1, 1.0, std::string(kFp16) + schedule), 1, 2);
  const auto initial = p.engine()->parameters();
  std::vector<StepReport> reports;
  int s = 0;
  for (; s < 30; ++s) {
    const auto b = batches_for(s, 1);
    p.engine()->forward(b);
    p.engine()->backward(LossSpec{&b});
    reports.push_back(p.engine()->step());
    if (reports.back().stepped) break;
  }
  const size_t skips = reports.size() - 1;
  ASSERT_GE(skips, 3u) << "2^24 should overflow the tiny model's fp16 gradients";
  ASSERT_TRUE(reports.back().stepped);
  // Hysteresis 2: the first overflow spends the hysteresis, every later one halves the scale.
  double expected_scale = 0x1p24;
  for (size_t i = 0; i < reports.size(); ++i) {
    EXPECT_EQ(reports[i].loss_scale, expected_scale) << "step " << i;
    if (i < skips) {
      EXPECT_TRUE(reports[i].nonfinite && reports[i].scaler_overflow && !reports[i].stepped) << "step " << i;
      if (i >= 1) expected_scale /= 2;
      if (i == 0) continue;
    }
  }
  EXPECT_EQ(p.engine()->skipped_steps(), static_cast<int64_t>(skips));
  EXPECT_EQ(p.engine()->global_steps(), static_cast<int64_t>(skips + 1));
  // The scheduler did not move on skipped steps: the first taken step used the schedule's first lr.
  for (const StepReport& r : reports) EXPECT_EQ(r.lr, reports.front().lr);

  // No trace: the skipped steps left the weights as they were, and the first taken step equals a
  // fresh run's first step at the scale the skips arrived at, on the same batch.
  const std::string settled = R"(, "fp16": {"enabled": true, "initial_scale_power": )" +
                              std::to_string(static_cast<int>(std::log2(reports.back().loss_scale))) + "}";
  Prepared fresh = prepare_tiny(tiny_config(0, 1, 1.0, settled + schedule), 1, 2);
  for (size_t i = 0; i < initial.size(); ++i) ASSERT_TRUE(same_bits(initial[i].second, fresh.engine()->parameters()[i].second));
  const auto b = batches_for(s, 1);
  fresh.engine()->forward(b);
  fresh.engine()->backward(LossSpec{&b});
  const StepReport first = fresh.engine()->step();
  ASSERT_TRUE(first.stepped);
  EXPECT_EQ(first.grad_norm, reports.back().grad_norm);
  EXPECT_EQ(first.lr, reports.back().lr);
  EXPECT_EQ(fresh.scheduler()->iteration(), p.scheduler()->iteration());
  const auto after_skips = p.engine()->parameters(), after_fresh = fresh.engine()->parameters();
  for (size_t i = 0; i < after_skips.size(); ++i) EXPECT_TRUE(same_bits(after_skips[i].second, after_fresh[i].second)) << after_skips[i].first;
}

TEST(MixedPrecision, Fp16GradientNormAndClippingAreUnscaled) {
  // The same weights and batch at two loss scales that both survive: the reported norm is the
  // unscaled one, and the update is the same up to fp16 rounding of the scaled gradients.
  auto run_at = [](int power) {
    Prepared p = prepare_tiny(
        tiny_config(0, 1, 0.5, R"(, "fp16": {"enabled": true, "initial_scale_power": )" + std::to_string(power) + "}"), 1, 2);
    const auto b = batches_for(0, 1);
    p.engine()->forward(b);
    p.engine()->backward(LossSpec{&b});
    return p.engine()->step();
  };
  const StepReport low = run_at(4), high = run_at(8);
  ASSERT_TRUE(low.stepped && high.stepped);
  EXPECT_NEAR(high.grad_norm, low.grad_norm, 1e-3 * low.grad_norm);
  EXPECT_GT(low.grad_norm, 0.5);  // so clipping was active in both
}

TEST(MixedPrecision, AnOverflowAtTheMinimumScaleEndsTheRunNamingTheStep) {
  Prepared p = prepare_tiny(
      tiny_config(0, 1, 1.0, R"(, "fp16": {"enabled": true, "initial_scale_power": 24, "hysteresis": 1, "min_loss_scale": 16777216})"),
      1, 2);
  const auto b = batches_for(0, 1);
  p.engine()->forward(b);
  try {
    p.engine()->backward(LossSpec{&b});
    p.engine()->step();
    FAIL() << "expected LossScaleError";
  } catch (const LossScaleError& e) {
    EXPECT_NE(std::string(e.what()).find("step 1"), std::string::npos) << e.what();
  }
}

TEST(MixedPrecision, AnFp16RunResumesWithItsLossScalerExactly) {
  // Checkpoint in the middle of the overflow phase (the scale and hysteresis have moved), then go on.
  const DeepSpeedConfig config = tiny_config(2, 1, 1.0, kFp16);
  Prepared whole = prepare_tiny(config, 2, 2);
  const Trace expected = train(*whole.engine(), 2, 12);
  Prepared first = prepare_tiny(config, 2, 2);
  train(*first.engine(), 2, 2);
  ASSERT_EQ(first.engine()->skipped_steps(), 2) << "the checkpoint should fall inside the overflow phase";
  const auto dir = test::temp_dir("fp16-resume");
  first.engine()->save(dir);
  Prepared resumed = prepare_tiny(config, 2, 2, /*seed=*/99);
  resumed.engine()->load(dir);
  EXPECT_EQ(resumed.engine()->loss_scaler().scale(), first.engine()->loss_scaler().scale());
  Trace rest = train(*resumed.engine(), 2, 10, /*first=*/2);
  Trace tail = expected;
  tail.reports.erase(tail.reports.begin(), tail.reports.begin() + 2);
  expect_bitwise_equal(tail, rest, "resumed");
  EXPECT_EQ(resumed.engine()->skipped_steps(), whole.engine()->skipped_steps());
  std::filesystem::remove_all(dir);
}

TEST(MixedPrecision, Fp16MasterWeightsAreRefusedRatherThanIgnored) {
  try {
    prepare_tiny(tiny_config(2, 1, 1.0, R"(, "fp16": {"enabled": true, "fp16_master_weights_and_grads": true})"), 1, 2);
    FAIL() << "expected a refusal";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("fp16.fp16_master_weights_and_grads: not supported"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tandem
