// ZeRO-Offload picks the optimizer by its declared capability, never by name: a third-party
// optimizer that declares TANDEM_OPTIMIZER_RUNS_ON_HOST trains with offload_optimizer.device
// "cpu" although nothing lists it, and one that declares only a device path is refused with a
// message naming the module, its file and the flag. The fixtures (fixtures/sgd_optimizer.cpp) are
// real .so files on the Accelerator's module path.
#include <gtest/gtest.h>

#include "distill_support.hpp"

namespace tandem {
namespace {

DeepSpeedConfig offload_config(const std::string& optimizer, int stage) {
  return load_config_text(R"({"train_micro_batch_size_per_gpu": "auto", "gradient_clipping": 0.0,
      "optimizer": {"type": ")" + optimizer + R"(", "params": {"lr": 0.1}},
      "zero_optimization": {"stage": )" + std::to_string(stage) +
                              R"(, "offload_optimizer": {"device": "cpu"}}})",
                          "<offload " + optimizer + ">");
}

Prepared prepare(const std::string& optimizer, int stage) {
  State::reset();
  AcceleratorOptions options;
  options.world_size = 2;
  options.module_path = {DISTILL_FIXTURE_DIR};
  Accelerator accelerator({{"model", DeepSpeedPlugin(offload_config(optimizer, stage))}}, options);
  PrepareInputs in;
  in.model = test::student_model();
  in.micro_batch = 2;
  return accelerator.prepare(in);
}

// The lowest partitioned stage this build has (offload takes effect from ZeRO-1 on).
std::optional<int> offload_stage() {
  for (int s : {1, 2, 3})
    if (test::has_stage(s)) return s;
  return std::nullopt;
}

TEST(OffloadCapability, AnOptimizerWithoutAHostPathIsRefusedNamingItsModuleAndFile) {
  const std::optional<int> stage = offload_stage();
  if (!stage) GTEST_SKIP() << "this build has no ZeRO-1/2/3 stage module yet (offload needs one)";
  try {
    prepare("device_sgd", *stage);
    FAIL() << "a device-only optimizer was accepted under offload_optimizer.device = cpu";
  } catch (const ModuleError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'device_sgd'"), std::string::npos) << what;
    EXPECT_NE(what.find(std::string(DISTILL_FIXTURE_DIR) + "/libtandem-optimizer-device_sgd.so"), std::string::npos)
        << what;
    EXPECT_NE(what.find("TANDEM_OPTIMIZER_RUNS_ON_HOST"), std::string::npos) << what;
    EXPECT_NE(what.find("offload_optimizer.device is \"cpu\""), std::string::npos) << what;
  }
}

TEST(OffloadCapability, AThirdPartyOptimizerThatRunsOnTheHostTrainsWithOffload) {
  const std::optional<int> stage = offload_stage();
  if (!stage) GTEST_SKIP() << "this build has no ZeRO-1/2/3 stage module yet (offload needs one)";
  Prepared p = prepare("host_sgd", *stage);
  ASSERT_TRUE(p.engine()->trains());
  const test::Weights before = p.engine()->parameters();
  const auto b = test::batches(2, 3);
  p.engine()->forward(b, true);
  p.engine()->backward(LossSpec{&b});
  const StepReport r = p.engine()->step();
  EXPECT_TRUE(r.stepped);
  EXPECT_FALSE(test::bitwise_equal(p.engine()->parameters(), before));
  const std::vector<tandem_stage_memory> memory = p.engine()->memory();
  EXPECT_EQ(memory.size(), 2u);
}

TEST(OffloadCapability, ZeroStageZeroIgnoresOffloadAsDeepSpeedDoes) {
  // DeepSpeed ignores offload_optimizer under ZeRO-0 (the config check warns), so nothing is
  // asked of the optimizer there.
  Prepared p = prepare("device_sgd", 0);
  EXPECT_TRUE(p.engine()->trains());
  bool warned = false;
  for (const ConfigIssue& w : p.config().warnings) warned |= w.to_string().find("offload_optimizer") != std::string::npos;
  EXPECT_TRUE(warned);
}

}  // namespace
}  // namespace tandem
