// An optimizer's declared capabilities decide where it may run: one that declares
// TANDEM_OPTIMIZER_NEEDS_WHOLE_MATRICES (Muon, Shampoo) is refused by every stage that would hand
// it a flat slice cutting across matrices (ZeRO-1/2/3 on more than one rank), with a message that
// says why, instead of silently stepping slices; where each rank holds everything (ZeRO-0, or a
// single rank) it trains. The fixture module is fixtures/whole_matrix_sgd.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "../engine/engine_support.hpp"

namespace tandem::test {
namespace {

using ::testing::HasSubstr;

Prepared prepare_whole_matrix(int stage, int64_t world) {
  const DeepSpeedConfig config = load_config_text(
      R"({"train_micro_batch_size_per_gpu": 2, "optimizer": {"type": "WholeMatrixSgd", "params": {"lr": 0.05}},
          "zero_optimization": {"stage": )" +
          std::to_string(stage) + "}}",
      "<capabilities test>");
  State::reset();
  PluginSet plugins;
  plugins.add("model", DeepSpeedPlugin(config));
  AcceleratorOptions options;
  options.world_size = world;
  options.module_path = {WHOLE_MATRIX_FIXTURE_DIR};
  Accelerator accelerator(std::move(plugins), options);
  PrepareInputs in;
  in.model = tiny_gpt();
  in.micro_batch = 2;
  return accelerator.prepare(in);
}

class NeedsWholeMatrices : public ::testing::TestWithParam<int> {};

TEST_P(NeedsWholeMatrices, ShardingStageRefusesItOnTwoRanks) {
  const int stage = GetParam();
  try {
    prepare_whole_matrix(stage, 2);
    FAIL() << "ZeRO-" << stage << " on 2 ranks accepted an optimizer that needs whole matrices";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), HasSubstr("ZeRO stage " + std::to_string(stage)));
    EXPECT_THAT(e.what(), HasSubstr("needs whole matrices"));
    EXPECT_THAT(e.what(), HasSubstr("2 ranks"));
  }
}

TEST_P(NeedsWholeMatrices, TrainsOnOneRank) {
  Prepared p = prepare_whole_matrix(GetParam(), 1);
  const auto before = p.engine()->parameters();
  const std::vector<TokenBatch> b = {random_batch(2, 8, 32, 3)};
  p.engine()->forward(b);
  p.engine()->backward(LossSpec{&b});
  EXPECT_TRUE(std::isfinite(p.engine()->step().loss));
  EXPECT_NE(p.engine()->parameters(), before);
}

INSTANTIATE_TEST_SUITE_P(Zero, NeedsWholeMatrices, ::testing::Values(1, 2, 3),
                         [](const ::testing::TestParamInfo<int>& info) { return "zero" + std::to_string(info.param); });

TEST(NeedsWholeMatricesZero0, TrainsOnTwoRanksWithWholeMatricesOfTheirTrueShapes) {
  // ZeRO-0 gives every rank the whole flat model: nothing is cut. The fixture moves each matrix by
  // exactly lr in Frobenius norm, which needs each whole matrix and its shape from the step's
  // parameter pieces; vectors take a plain SGD step.
  Prepared p = prepare_whole_matrix(0, 2);
  const auto before = p.engine()->parameters();
  const std::vector<TokenBatch> b = {random_batch(2, 8, 32, 3), random_batch(2, 8, 32, 4)};
  p.engine()->forward(b);
  p.engine()->backward(LossSpec{&b});
  EXPECT_TRUE(std::isfinite(p.engine()->step().loss));
  const auto after = p.engine()->parameters();
  size_t matrices = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    if (p.engine()->parameter_shape(i).size() < 2) continue;
    double moved = 0;
    for (size_t j = 0; j < after[i].second.size(); ++j) {
      const double d = static_cast<double>(after[i].second[j]) - before[i].second[j];
      moved += d * d;
    }
    EXPECT_NEAR(std::sqrt(moved), 0.05, 1e-4) << after[i].first;
    ++matrices;
  }
  EXPECT_GE(matrices, 6u);  // wte, wpe and each block's four weight matrices
}

}  // namespace
}  // namespace tandem::test
