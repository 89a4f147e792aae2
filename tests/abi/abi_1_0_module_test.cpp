// Modules built against the frozen SDK 1.0 headers (tests/abi/sdk-1.0) in a host of a newer SDK
// minor: they load, report ABI 1.0, and run as their 1.0 code says, through the registry, the
// scheduler handle, the optimizer client, a ZeRO-2 engine, and (a stage) the stage conformance suite
// and an engine that selects it with "tandem": {"stage_module": ...}, refused under bf16.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "../engine/engine_support.hpp"
#include "tandem/conformance/stage.hpp"
#include "tandem/optimizer.hpp"

namespace tandem::test {
namespace {

const std::filesystem::path kOld = ABI_1_0_MODULE_DIR;
const std::filesystem::path kCurrent = ABI_CURRENT_MODULE_DIR;

std::string refusals(const ModuleRegistry& r) {
  std::string out;
  for (const auto& x : r.refusals()) out += x.file.string() + ": " + x.reason + "\n";
  return out;
}

TEST(Abi10Modules, LoadIntoANewerMinorHost) {
  // The point of the test: the host's minor is newer than the modules'.
  static_assert(TANDEM_ABI_MAJOR == 1 && TANDEM_ABI_MINOR >= 1, "the host is meant to be past SDK 1.0");
  ModuleRegistry registry;
  registry.scan({kOld});
  EXPECT_TRUE(registry.refusals().empty()) << refusals(registry);
  const std::pair<ModuleKind, const char*> expected[] = {
      {ModuleKind::Scheduler, "step_decay_lr"}, {ModuleKind::Optimizer, "lion"}, {ModuleKind::Stage, "plain_dp"}};
  for (const auto& [kind, name] : expected) {
    const ModuleInfo* m = registry.find(kind, name);
    ASSERT_NE(m, nullptr) << name << "\n" << refusals(registry);
    EXPECT_EQ(m->abi_major, 1);
    EXPECT_EQ(m->abi_minor, 0);
    EXPECT_EQ(m->file.parent_path(), kOld);
  }
}

TEST(Abi10Modules, SchedulerRunsItsSchedule) {
  ModuleRegistry registry;
  registry.scan({kOld});
  const json::Document params = json::parse(R"({"gamma": 0.25, "step_size": 3})", "<abi test>");
  LrScheduler s(registry.create(registry.get(ModuleKind::Scheduler, "StepDecayLR"), &params.root, params.source,
                                "abi.scheduler"));
  const std::vector<double> base = {0.1, 0.04};
  s.bind(base, true);
  for (int64_t it = -1; it < 12; ++it) {
    ASSERT_EQ(s.iteration(), it);
    const double factor = std::pow(0.25, static_cast<double>(std::max<int64_t>(it, 0) / 3));
    const SchedulerValues v = s.values();
    ASSERT_EQ(v.lrs.size(), 2u);
    EXPECT_DOUBLE_EQ(v.lrs[0], 0.1 * factor) << "iteration " << it;
    EXPECT_DOUBLE_EQ(v.lrs[1], 0.04 * factor) << "iteration " << it;
    s.step();
  }
}

TEST(Abi10Modules, OptimizerStepsAsLion) {
  ModuleRegistry registry;
  registry.scan({kOld});
  const json::Document params = json::parse(R"({"lr": 0.01, "betas": [0.8, 0.9], "weight_decay": 0.5})", "<abi>");
  const auto instance = registry.create(registry.get(ModuleKind::Optimizer, "Lion"), &params.root, params.source,
                                        "abi.optimizer");
  sdk::OptimizerClient opt(instance->handle(), &instance->vtable<tandem_optimizer_vtable>());
  EXPECT_EQ(opt.capabilities(), static_cast<uint32_t>(TANDEM_OPTIMIZER_RUNS_ON_HOST));
  constexpr size_t n = 5;
  opt.init_state(n);
  std::vector<float> p = {0.5f, -0.25f, 1.0f, 0.0f, -2.0f};
  std::vector<double> ref(p.begin(), p.end()), m(n, 0.0);
  for (int64_t t = 1; t <= 3; ++t) {
    const std::vector<float> g = {0.3f, -0.1f, t == 2 ? -2.0f : 0.2f, 0.0f, 0.05f * static_cast<float>(t)};
    const sdk::OptimizerHparams d = opt.defaults();
    tandem_optimizer_group group{sizeof(tandem_optimizer_group), 0, n,
                                 {sizeof(tandem_optimizer_hparams), d.lr, d.beta1, d.beta2, d.eps, d.weight_decay}};
    tandem_optimizer_step_args a{};
    a.struct_size = sizeof(a);
    a.step = t;
    a.params = p.data();
    a.grads = g.data();
    a.grad_dtype = TANDEM_DTYPE_F32;
    a.grad_scale = 1.0;
    a.numel = n;
    a.groups = &group;
    a.group_count = 1;
    opt.step(a);
    for (size_t i = 0; i < n; ++i) {  // Lion by hand: sign of the interpolation, decoupled decay
      const double c = 0.8 * m[i] + 0.2 * g[i];
      ref[i] = ref[i] - 0.01 * ((c > 0) - (c < 0)) - 0.01 * 0.5 * ref[i];
      m[i] = 0.9 * m[i] + 0.1 * g[i];
    }
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(p[i], ref[i], 1e-6) << "step " << t << ", element " << i;
  }
}

// The tiny GPT under ZeRO-2 on 2 thread-ranks with Lion: the 1.0 build and the current build of the
// same source train identically, bit for bit (the host hands both the same arguments).
std::vector<double> train_with_lion(const std::filesystem::path& lion_dir, std::vector<float>& final_weights) {
  const DeepSpeedConfig config = load_config_text(
      R"({"train_micro_batch_size_per_gpu": 2, "gradient_clipping": 1.0,
          "optimizer": {"type": "Lion", "params": {"lr": 0.003, "weight_decay": 0.1}},
          "zero_optimization": {"stage": 2, "reduce_bucket_size": 300}})",
      "<abi lion>");
  State::reset();
  PluginSet plugins;
  plugins.add("model", DeepSpeedPlugin(config));
  AcceleratorOptions options;
  options.world_size = 2;
  options.module_path = {lion_dir};
  Accelerator accelerator(std::move(plugins), options);
  PrepareInputs in;
  in.model = tiny_gpt(5);
  in.micro_batch = 2;
  Prepared p = accelerator.prepare(in);
  std::vector<double> losses;
  for (int step = 0; step < 4; ++step) {
    std::vector<TokenBatch> batches;
    for (uint64_t r = 0; r < 2; ++r) batches.push_back(random_batch(2, 8, 32, 100u * static_cast<uint64_t>(step) + r));
    p.engine()->forward(batches);
    p.engine()->backward(LossSpec{&batches});
    losses.push_back(p.engine()->step().loss);
  }
  final_weights.clear();
  for (const auto& [name, w] : p.engine()->parameters()) final_weights.insert(final_weights.end(), w.begin(), w.end());
  return losses;
}

TEST(Abi10Modules, OptimizerTrainsUnderZero2AsTheCurrentBuildDoes) {
  std::vector<float> old_weights, current_weights;
  const std::vector<double> old_losses = train_with_lion(kOld, old_weights);
  const std::vector<double> current_losses = train_with_lion(kCurrent, current_weights);
  EXPECT_EQ(old_losses, current_losses);
  EXPECT_TRUE(old_weights == current_weights);
  ASSERT_EQ(old_losses.size(), 4u);
  EXPECT_TRUE(std::isfinite(old_losses.back()));
  EXPECT_NE(old_losses.front(), old_losses.back());  // Lion moved the weights
}

// The 1.0 stage trains as zero0, bit for bit, on the suite's toy model (world sizes 1-4, gas 1-2,
// clipping on and off), loaded by name from the 1.0 module directory.
INSTANTIATE_TEST_SUITE_P(Abi10, StageConformance,
                         ::testing::Values(StageFactory{"plain_dp", nullptr, "plain_dp", {kOld}}), stage_factory_name);

Prepared prepare_with_stage(const std::string& tandem_block, const std::string& precision, const std::string& source) {
  const DeepSpeedConfig config = load_config_text(
      R"({"train_micro_batch_size_per_gpu": 2, "gradient_clipping": 1.0,
          "optimizer": {"type": "AdamW", "params": {"lr": 0.01, "weight_decay": 0.1}},
          "zero_optimization": {"stage": 0})" + precision + tandem_block + "}",
      source);
  State::reset();
  PluginSet plugins;
  plugins.add("model", DeepSpeedPlugin(config));
  AcceleratorOptions options;
  options.world_size = 2;
  options.module_path = {kOld};
  Accelerator accelerator(std::move(plugins), options);
  PrepareInputs in;
  in.model = tiny_gpt(5);
  in.micro_batch = 2;
  return accelerator.prepare(in);
}

TEST(Abi10Modules, AStageSelectedByTheConfigTrainsInFp32AsZeroZero) {
  std::vector<double> losses[2];
  const std::string blocks[2] = {"", R"(, "tandem": {"stage_module": "plain_dp"})"};
  for (int i = 0; i < 2; ++i) {
    Prepared p = prepare_with_stage(blocks[i], "", "<abi stage>");
    for (int step = 0; step < 3; ++step) {
      std::vector<TokenBatch> batches;
      for (uint64_t r = 0; r < 2; ++r) batches.push_back(random_batch(2, 8, 32, 100u * static_cast<uint64_t>(step) + r));
      p.engine()->forward(batches);
      p.engine()->backward(LossSpec{&batches});
      losses[i].push_back(p.engine()->step().loss);
    }
  }
  EXPECT_EQ(losses[1], losses[0]);
  EXPECT_NE(losses[1].front(), losses[1].back());
}

TEST(Abi10Modules, AStageIsRefusedWhenTheConfigEnablesBf16) {
  try {
    prepare_with_stage(R"(, "tandem": {"stage_module": "plain_dp"})", R"(, "bf16": {"enabled": true})", "bf16.json");
    FAIL() << "a 1.0 stage was accepted under bf16";
  } catch (const ModuleError& e) {
    const std::string file = (kOld / "libtandem-stage-plain_dp.so").string();
    EXPECT_THAT(e.what(), ::testing::HasSubstr("bf16.json: the config enables bf16, but stage module 'plain_dp' (" +
                                               file + ") was built against SDK 1.0"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("this host is " + std::to_string(TANDEM_ABI_MAJOR) + "." +
                                               std::to_string(TANDEM_ABI_MINOR)));
  }
}

}  // namespace
}  // namespace tandem::test
