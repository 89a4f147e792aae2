// Under ZeRO-Offload the engine prefers the host counterpart of the chosen optimizer, the module
// named "cpu_" + its name, when one exists (DeepSpeed builds DeepSpeedCPUAdam there): "AdamW" runs
// on cpu_adamw, and a third-party device_sgd on cpu_device_sgd when that module is on the path.
// Selection is seen through what only the selected module accepts or can do: device_sgd alone is
// refused under offload (offload_capability_test), with cpu_device_sgd beside it the model trains;
// cpu_adamw's own "simd" param is refused by adamw's schema but accepted under offload.
#include <gtest/gtest.h>

#include "distill_support.hpp"

namespace tandem {
namespace {

DeepSpeedConfig config(const std::string& optimizer, const std::string& params, int stage, bool offload) {
  return load_config_text(R"({"train_micro_batch_size_per_gpu": "auto", "gradient_clipping": 0.0,
      "optimizer": {"type": ")" + optimizer + R"(", "params": )" + params + R"(},
      "zero_optimization": {"stage": )" + std::to_string(stage) +
                              (offload ? R"(, "offload_optimizer": {"device": "cpu"}}})" : "}}"),
                          "<cpu optimizer " + optimizer + ">");
}

Prepared prepare(const DeepSpeedConfig& c, bool with_cpu_fixture) {
  State::reset();
  AcceleratorOptions options;
  options.world_size = 2;
  options.module_path = {DISTILL_FIXTURE_DIR};
  if (with_cpu_fixture) options.module_path.push_back(DISTILL_CPU_FIXTURE_DIR);
  Accelerator accelerator({{"model", DeepSpeedPlugin(c)}}, options);
  PrepareInputs in;
  in.model = test::student_model();
  in.micro_batch = 2;
  return accelerator.prepare(in);
}

std::optional<int> offload_stage() {
  for (int s : {1, 2, 3})
    if (test::has_stage(s)) return s;
  return std::nullopt;
}

// One step; the parameters after it.
test::Weights train_one_step(Prepared& p) {
  const auto b = test::batches(2, 3);
  p.engine()->forward(b, true);
  p.engine()->backward(LossSpec{&b});
  const StepReport r = p.engine()->step();
  EXPECT_TRUE(r.stepped);
  return p.engine()->parameters();
}

TEST(OffloadCpuOptimizer, TheCpuCounterpartOfADeviceOnlyOptimizerIsSelected) {
  const std::optional<int> stage = offload_stage();
  if (!stage) GTEST_SKIP() << "this build has no ZeRO-1/2/3 stage module yet (offload needs one)";
  const DeepSpeedConfig c = config("device_sgd", R"({"lr": 0.1})", *stage, true);
  EXPECT_THROW(prepare(c, false), ModuleError);  // device_sgd alone: no host path
  Prepared p = prepare(c, true);
  ASSERT_TRUE(p.engine()->trains());
  const test::Weights before = p.engine()->parameters();
  EXPECT_FALSE(test::bitwise_equal(train_one_step(p), before));
}

TEST(OffloadCpuOptimizer, WithoutOffloadTheChosenModuleItselfIsUsed) {
  const std::optional<int> stage = offload_stage();
  if (!stage) GTEST_SKIP() << "this build has no ZeRO-1/2/3 stage module yet";
  // cpu_adamw accepts "simd", adamw's schema does not: without offload adamw is built and refuses it.
  try {
    prepare(config("AdamW", R"({"lr": 0.01, "simd": "portable"})", *stage, false), false);
    FAIL() << "adamw accepted cpu_adamw's simd param: was cpu_adamw selected without offload?";
  } catch (const ModuleError& e) {
    EXPECT_NE(std::string(e.what()).find("simd"), std::string::npos) << e.what();
  }
}

TEST(OffloadCpuOptimizer, AdamWUnderOffloadRunsOnCpuAdamWWithTheSameResult) {
  const std::optional<int> stage = offload_stage();
  if (!stage) GTEST_SKIP() << "this build has no ZeRO-1/2/3 stage module yet (offload needs one)";
  // Only cpu_adamw knows "simd": that the engine builds, cpu_adamw was selected.
  Prepared offloaded = prepare(config("AdamW", R"({"lr": 0.01, "weight_decay": 0.1, "simd": "portable"})", *stage,
                                      true),
                               false);
  Prepared plain = prepare(config("AdamW", R"({"lr": 0.01, "weight_decay": 0.1})", *stage, false), false);
  const test::Weights before = plain.engine()->parameters();
  ASSERT_TRUE(test::bitwise_equal(offloaded.engine()->parameters(), before));
  const test::Weights a = train_one_step(offloaded);
  const test::Weights b = train_one_step(plain);
  EXPECT_FALSE(test::bitwise_equal(a, before));
  // One update rule in both modules, one rounding per operation: the same bits.
  EXPECT_TRUE(test::bitwise_equal(a, b));
}

}  // namespace
}  // namespace tandem
