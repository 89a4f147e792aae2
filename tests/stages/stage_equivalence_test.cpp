// ZeRO stages 1, 2 and 3 train exactly as stage 0 does: the same losses, gradient norms and final
// weights, bit for bit, for 1 to 4 thread-ranks (every one of which pads the flat groups), with
// gradient accumulation, with clipping that clips and clipping that does not, under a WarmupDecayLR
// schedule; and so do the knobs that change how they communicate (bucket sizes, persistence,
// prefetch limits, overlap_comm), which must change nothing in the numbers.
#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "stage_support.hpp"

namespace tandem::test {
namespace {

constexpr int kSteps = 3;

// Stage 3's settings in the main matrix: the vectors persist (<= 20 elements), the matrices are
// partitioned, and prefetch is bounded so that it reaches some layers and not others.
const std::string kStage3Default =
    R"(, "stage3_param_persistence_threshold": 20, "stage3_prefetch_bucket_size": 300, "stage3_max_live_parameters": 700)";

struct Outcome {
  Trace trace;
  Weights initial, final;
};

Outcome run(StageRun config, int64_t world) {
  Prepared p = prepare_run(config, world);
  Outcome out;
  out.initial = p.engine()->parameters();
  train(*p.engine(), config.gas, 0, kSteps, out.trace);
  out.final = p.engine()->parameters();
  return out;
}

void expect_same_training(const Outcome& reference, const Outcome& stage) {
  EXPECT_EQ(stage.trace.losses, reference.trace.losses);  // doubles, compared exactly
  EXPECT_EQ(stage.trace.norms, reference.trace.norms);
  EXPECT_EQ(stage.trace.stepped, reference.trace.stepped);
  expect_bitwise_equal(stage.final, reference.final);
}

// The model sizes the tests rely on: every world size 2..4 leaves padding in both groups.
TEST(StageLayout, TheTinyModelPadsForEveryWorldSize) {
  Prepared p = prepare_run(StageRun{}, 1);
  const ExpectedLayout layout(*p.engine(), 1);
  EXPECT_EQ(layout.numel[0], 1085u);
  EXPECT_EQ(layout.numel[1], 205u);
  for (size_t w : {2u, 3u, 4u})
    for (size_t g = 0; g < 2; ++g) EXPECT_NE(layout.numel[g] % w, 0u) << "group " << g << ", world " << w;
}

using MatrixParam = std::tuple<int /*stage*/, int64_t /*world*/, int /*gas*/, double /*clip*/>;

class StageMatchesZero0 : public ::testing::TestWithParam<MatrixParam> {};

TEST_P(StageMatchesZero0, LossesNormsAndWeightsBitForBit) {
  const auto [stage, world, gas, clip] = GetParam();
  const Outcome reference = run(StageRun{0, gas, clip}, world);
  const Outcome partitioned = run(StageRun{stage, gas, clip, stage == 3 ? kStage3Default : ""}, world);
  expect_same_training(reference, partitioned);

  // The run is a real test: the weights moved, and clipping did what the case says.
  bool moved = false;
  for (size_t i = 0; i < reference.final.size(); ++i)
    moved = moved || reference.final[i].second != reference.initial[i].second;
  EXPECT_TRUE(moved);
  ASSERT_EQ(reference.trace.norms.size(), static_cast<size_t>(kSteps));
  for (double norm : reference.trace.norms) {
    if (clip < 1) EXPECT_GT(norm, clip) << "this case must clip";
    else EXPECT_LT(norm, clip) << "this case must not clip";
  }
}

INSTANTIATE_TEST_SUITE_P(Matrix, StageMatchesZero0,
                         ::testing::Combine(::testing::Values(1, 2, 3), ::testing::Values(1, 2, 3, 4),
                                            ::testing::Values(1, 2), ::testing::Values(0.05, 100.0)),
                         [](const ::testing::TestParamInfo<MatrixParam>& info) {
                           return "zero" + std::to_string(std::get<0>(info.param)) + "_world" +
                                  std::to_string(std::get<1>(info.param)) + "_gas" +
                                  std::to_string(std::get<2>(info.param)) +
                                  (std::get<3>(info.param) < 1 ? "_clipped" : "_unclipped");
                         });

// Communication settings: each must leave the numbers as they are.
struct Variant {
  const char* name;
  int stage;
  std::string zero_extra;
};

using VariantParam = std::tuple<Variant, int64_t /*world*/>;

class StageVariantMatchesZero0 : public ::testing::TestWithParam<VariantParam> {};

TEST_P(StageVariantMatchesZero0, BitForBit) {
  const auto& [variant, world] = GetParam();
  const Outcome reference = run(StageRun{0, 2, 0.05}, world);
  expect_same_training(reference, run(StageRun{variant.stage, 2, 0.05, variant.zero_extra}, world));
}

const Variant kVariants[] = {
    // Buckets of one parameter each (reduced as each layer finishes), of a few, and one for everything.
    {"zero2_bucket_1", 2, R"(, "reduce_bucket_size": 1)"},
    {"zero2_bucket_250", 2, R"(, "reduce_bucket_size": 250, "overlap_comm": true)"},
    {"zero2_bucket_all", 2, R"(, "reduce_bucket_size": 100000000, "overlap_comm": false)"},
    {"zero3_nothing_persistent", 3, R"(, "stage3_param_persistence_threshold": 0)"},
    {"zero3_everything_persistent", 3, R"(, "stage3_param_persistence_threshold": 1000000)"},
    {"zero3_model_persistence_cap", 3,
     R"(, "stage3_param_persistence_threshold": 1000, "stage3_model_persistence_threshold": 400)"},
    {"zero3_prefetch_one_element", 3,
     R"(, "stage3_param_persistence_threshold": 0, "stage3_prefetch_bucket_size": 1, "stage3_max_live_parameters": 1)"},
    {"zero3_prefetch_unlimited", 3,
     R"(, "stage3_param_persistence_threshold": 0, "stage3_prefetch_bucket_size": 1000000000, "stage3_max_live_parameters": 1000000000)"},
    {"zero3_bucket_1", 3, R"(, "stage3_param_persistence_threshold": 10, "reduce_bucket_size": 1)"},
};

INSTANTIATE_TEST_SUITE_P(Settings, StageVariantMatchesZero0,
                         ::testing::Combine(::testing::ValuesIn(kVariants), ::testing::Values(2, 3, 4)),
                         [](const ::testing::TestParamInfo<VariantParam>& info) {
                           return std::string(std::get<0>(info.param).name) + "_world" +
                                  std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace tandem::test
