// The stage module a config selects: "zero" + zero_optimization.stage, or the one named by the
// "tandem": {"stage_module": ...} block, with its params checked against the module's schema; an
// unknown name is an error naming the config, the JSON path and line:column, and the stage modules
// there are. Positions are found by scanning the test's own text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../config/config_test_util.hpp"
#include "engine_support.hpp"

namespace tandem {
namespace {

using ::testing::HasSubstr;
using test::line_col;
using test::position_of;
using test::prepare_tiny;
using test::random_batch;
using test::tiny_config;

std::string error_of(const std::string& extra) {
  try {
    prepare_tiny(tiny_config(2, 1, 1.0, extra), 2, 2);
  } catch (const std::exception& e) {
    return e.what();
  }
  ADD_FAILURE() << "the config was accepted: " << extra;
  return "";
}

std::vector<tandem_stage_memory> memory_with(int stage, const std::string& extra) {
  Prepared p = prepare_tiny(tiny_config(stage, 1, 1.0, extra), 2, 2);
  return p.engine()->memory();
}

TEST(StageModuleChoice, TheBlockReplacesTheStageNumbersModule) {
  // zero3 under a stage-2 config reports zero3's memory, not zero2's: which module runs shows in
  // each rank's memory report (the two differ on the tiny model).
  const auto zero2 = memory_with(2, "");
  const auto zero3 = memory_with(3, "");
  const auto chosen = memory_with(2, R"(, "tandem": {"stage_module": "zero3"})");
  ASSERT_EQ(chosen.size(), 2u);
  ASSERT_NE(zero3[0].param_bytes, zero2[0].param_bytes);
  EXPECT_EQ(chosen[0].param_bytes, zero3[0].param_bytes);
  EXPECT_EQ(chosen[0].grad_bytes, zero3[0].grad_bytes);
}

TEST(StageModuleChoice, TheChosenModuleTrainsWithItsParams) {
  std::vector<double> losses[2];
  const std::string extras[2] = {"", R"(, "tandem": {"stage_module": {"type": "zero2", "params": {"reduction": "all_reduce"}}})"};
  for (int i = 0; i < 2; ++i) {
    Prepared p = prepare_tiny(tiny_config(2, 1, 1.0, extras[i]), 2, 2);
    for (int step = 0; step < 3; ++step) {
      const std::vector<TokenBatch> batches{random_batch(2, 8, 32, 10 + step), random_batch(2, 8, 32, 20 + step)};
      p.engine()->forward(batches);
      p.engine()->backward(LossSpec{&batches});
      losses[i].push_back(p.engine()->step().loss);
    }
  }
  EXPECT_EQ(losses[1], losses[0]);  // the reduction never changes the bits
}

TEST(StageModuleChoice, ParamsAreCheckedAgainstTheModulesSchema) {
  const std::string extra = R"(, "tandem": {"stage_module": {"type": "zero2", "params": {"reduction": "broadcast"}}})";
  const std::string message = error_of(extra);
  EXPECT_THAT(message, HasSubstr("tandem.stage_module.params.reduction"));
  EXPECT_THAT(message, HasSubstr("broadcast"));
  EXPECT_THAT(message, HasSubstr("<tiny>"));
}

TEST(StageModuleChoice, AnUnknownNameNamesTheConfigThePathAndTheStageModules) {
  const std::string text =
      "{\"train_micro_batch_size_per_gpu\": 2,\n \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.01}},\n"
      " \"zero_optimization\": {\"stage\": 0},\n \"tandem\": {\"stage_module\": \"zero9\"}}";
  std::string message;
  try {
    State::reset();
    PluginSet plugins;
    plugins.add("model", DeepSpeedPlugin(load_config_text(text, "unknown.json")));
    AcceleratorOptions options;
    options.world_size = 1;
    Accelerator accelerator(std::move(plugins), options);
    PrepareInputs in;
    in.model = test::tiny_gpt(1);
    in.micro_batch = 2;
    accelerator.prepare(in);
    FAIL() << "zero9 was accepted";
  } catch (const ModuleError& e) {
    message = e.what();
  }
  EXPECT_THAT(message, HasSubstr("unknown.json:" + line_col(position_of(text, "\"stage_module\"")) +
                                 ": tandem.stage_module: no stage module named 'zero9'"));
  EXPECT_THAT(message, HasSubstr("available: zero0, zero1, zero2, zero3"));
}

}  // namespace
}  // namespace tandem
