// The engine's GPU path on the CPU: engines on the stand-in GPU (RunDevice::stand_in: modules placed on
// a "device" whose memory is host memory, strict about queued copies; tandem/stand_in_memory.hpp) with
// fixture modules that compute on it as the CPU does (fixtures/standin_gpt.cpp, standin_adamw.cpp), so
// that every branch a GPU run takes - placement, device logits and the loss on them, device views in
// stages, timers, ZeRO-Offload streamed through cpu_adamw, device state in checkpoints, evaluation - runs
// here and must give the CPU engine's bits: the losses and final weights of every stage, with thread-ranks,
// accumulation and clipping, the offloaded optimizer, a resumed run, a distillation with a ZeRO-3 teacher.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "engine_support.hpp"
#include "tandem/distill.hpp"

namespace tandem::test {
namespace {

struct RunSetup {
  RunDevice device = RunDevice::cpu;
  int stage = 0;
  bool offload = false;
  int64_t world = 1;
};

ModelSpec model_for(RunDevice device, uint64_t seed = 7) {
  ModelSpec m = tiny_gpt(seed);
  if (device == RunDevice::stand_in) m.type = "standin_gpt";
  return m;
}

std::string config_for(const RunSetup& s) {
  // On the stand-in GPU an on-device shard needs an optimizer that runs there: standin_adamw (adamw's
  // rule); offloaded, "AdamW" selects cpu_adamw there as on a GPU.
  const bool device_optimizer = s.device == RunDevice::stand_in && !s.offload;
  std::string text = R"({"train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": 2,
    "gradient_clipping": 0.05,
    "optimizer": {"type": ")" + std::string(device_optimizer ? "standin_adamw" : "AdamW") +
                     R"(", "params": {"lr": 0.01, "weight_decay": 0.1}},
    "scheduler": {"type": "WarmupLR", "params": {"warmup_min_lr": 0, "warmup_max_lr": 0.01, "warmup_num_steps": 2}},
    "zero_optimization": {"stage": )" + std::to_string(s.stage);
  if (s.offload) text += R"(, "offload_optimizer": {"device": "cpu"})";
  return text + "}}";
}

Prepared prepare(const RunSetup& s, uint64_t seed = 7) {
  State::reset();
  PluginSet plugins;
  plugins.add("model", DeepSpeedPlugin(load_config_text(config_for(s), "<stand-in test>")));
  AcceleratorOptions options;
  options.device = s.device;
  options.world_size = s.world;
  options.module_path = {STANDIN_FIXTURE_DIR};
  Accelerator accelerator(std::move(plugins), options);
  PrepareInputs in;
  in.model = model_for(s.device, seed);
  in.micro_batch = 2;
  return accelerator.prepare(in);
}

struct Trace {
  std::vector<double> losses, norms;
  double validation = 0;
  std::vector<std::pair<std::string, std::vector<float>>> params;
};

std::vector<TokenBatch> batches(int64_t world, int step, int micro) {
  std::vector<TokenBatch> out;
  for (int64_t r = 0; r < world; ++r)
    out.push_back(random_batch(2, 8, 32, 1000u * static_cast<uint64_t>(step) + 10u * static_cast<uint64_t>(micro) +
                                             static_cast<uint64_t>(r)));
  return out;
}

Trace train(Engine& e, int from, int to) {
  Trace t;
  for (int step = from; step < to; ++step)
    for (int micro = 0; micro < 2; ++micro) {
      const std::vector<TokenBatch> b = batches(e.local_ranks(), step, micro);
      e.forward(b, true);
      e.backward(LossSpec{&b});
      const StepReport r = e.step();
      t.losses.push_back(r.loss);
      if (r.boundary) t.norms.push_back(r.grad_norm);
    }
  t.validation = e.evaluate({batches(e.local_ranks(), 99, 0)});
  t.params = e.parameters();
  return t;
}

void expect_same_bits(const Trace& got, const Trace& want, const std::string& what) {
  EXPECT_EQ(got.losses, want.losses) << what << ": losses";
  EXPECT_EQ(got.norms, want.norms) << what << ": gradient norms";
  EXPECT_EQ(got.validation, want.validation) << what << ": validation loss";
  ASSERT_EQ(got.params.size(), want.params.size()) << what;
  for (size_t i = 0; i < got.params.size(); ++i)
    EXPECT_EQ(got.params[i].second, want.params[i].second) << what << ": " << got.params[i].first;
}

TEST(StandInGpu, EveryStageTrainsAsOnTheCpuBitForBit) {
  for (int64_t world : {1, 2})
    for (int stage = 0; stage <= 3; ++stage) {
      const std::string what = "stage " + std::to_string(stage) + ", " + std::to_string(world) + " ranks";
      Prepared cpu = prepare(RunSetup{RunDevice::cpu, stage, false, world});
      const Trace want = train(*cpu.engine(), 0, 4);
      Prepared gpu = prepare(RunSetup{RunDevice::stand_in, stage, false, world});
      ASSERT_TRUE(gpu.engine()->on_gpu());
      expect_same_bits(train(*gpu.engine(), 0, 4), want, what);
    }
}

TEST(StandInGpu, TheOffloadedStepStreamsAndTrainsAsOnTheCpu) {
  for (int64_t world : {1, 2})
    for (int stage : {1, 2}) {
      const std::string what = "stage " + std::to_string(stage) + " offloaded, " + std::to_string(world) + " ranks";
      Prepared cpu = prepare(RunSetup{RunDevice::cpu, stage, false, world});
      const Trace want = train(*cpu.engine(), 0, 4);
      Prepared gpu = prepare(RunSetup{RunDevice::stand_in, stage, true, world});
      expect_same_bits(train(*gpu.engine(), 0, 4), want, what);
    }
}

TEST(StandInGpu, AResumedRunContinuesBitForBit) {
  for (const RunSetup& s : {RunSetup{RunDevice::stand_in, 3, false, 2}, RunSetup{RunDevice::stand_in, 2, true, 1}}) {
    const std::string what = "stage " + std::to_string(s.stage) + (s.offload ? " offloaded" : "");
    const std::filesystem::path dir = temp_dir("stand-in-resume-" + std::to_string(s.stage));
    Prepared first = prepare(s);
    train(*first.engine(), 0, 2);
    first.engine()->save(dir);
    const Trace uninterrupted = train(*first.engine(), 2, 4);
    Prepared second = prepare(s, 999);  // other initial weights: everything must come from the checkpoint
    second.engine()->load(dir);
    expect_same_bits(train(*second.engine(), 2, 4), uninterrupted, what);
    std::filesystem::remove_all(dir);
  }
}

TEST(StandInGpu, DistillationWithAZeroThreeTeacherMatchesTheCpu) {
  // prefetch: through Distiller, the next teacher forward queued while the (offloaded) student steps.
  auto run = [](RunDevice device, bool prefetch = false) {
    State::reset();
    PluginSet plugins;
    plugins.add("student", DeepSpeedPlugin(load_config_text(config_for(RunSetup{device, 2, true, 1}), "<student>")));
    plugins.add("teacher", DeepSpeedPlugin(load_config_text(
                               R"({"train_micro_batch_size_per_gpu": "auto", "zero_optimization": {"stage": 3,
                                   "stage3_param_persistence_threshold": 20}})",
                               "<teacher>")));
    AcceleratorOptions options;
    options.device = device;
    options.module_path = {STANDIN_FIXTURE_DIR};
    Accelerator accelerator(std::move(plugins), options);
    PrepareInputs s;
    s.model = model_for(device, 5);
    s.micro_batch = 2;
    Prepared student = accelerator.prepare(s);
    accelerator.select("teacher");
    PrepareInputs t;
    t.model = model_for(device, 6);
    t.micro_batch = 2;
    Prepared teacher = accelerator.prepare(t);
    std::vector<std::vector<TokenBatch>> all;
    for (int step = 0; step < 3; ++step)
      for (int micro = 0; micro < 2; ++micro) all.push_back(batches(1, step, micro));
    Distiller distiller(*student.engine(), *teacher.engine(), DistillLoss{0.5, 2.0});
    std::vector<double> losses;
    for (size_t i = 0; i < all.size(); ++i) {
      const std::vector<TokenBatch>& b = all[i];
      StepReport r;
      if (prefetch) {
        r = distiller.step(b, {static_cast<int64_t>(i)}, i + 1 < all.size() ? &all[i + 1] : nullptr);
      } else {
        const Logits tl = teacher.engine()->forward(b, false);
        EXPECT_EQ(tl.on_gpu(), device == RunDevice::stand_in);
        student.engine()->forward(b, true);
        student.engine()->backward(LossSpec{&b, &tl, 0.5, 2.0});
        r = student.engine()->step();
      }
      losses.push_back(r.ce_loss);
      losses.push_back(r.kd_loss);
    }
    // Prefetched, each batch's teacher forward ran once.
    EXPECT_EQ(teacher.engine()->forward_count(), all.size());
    return losses;
  };
  const std::vector<double> cpu = run(RunDevice::cpu);
  EXPECT_EQ(run(RunDevice::stand_in), cpu);
  EXPECT_EQ(run(RunDevice::stand_in, true), cpu) << "the teacher's forward queued during the offloaded step";
  EXPECT_EQ(run(RunDevice::cpu, true), cpu);
  EXPECT_GT(cpu[1], 0.0) << "the teacher contributes";
}

TEST(StandInGpu, AModelThatCannotTakeThePlacementIsRefusedByName) {
  // standin_gpt computes in fp32 only: under bf16 its place() refuses, and prepare says which module
  // could not run on which GPU, and why.
  State::reset();
  PluginSet plugins;
  plugins.add("model", DeepSpeedPlugin(load_config_text(
                           R"({"train_micro_batch_size_per_gpu": 2, "optimizer": {"type": "standin_adamw"},
                               "bf16": {"enabled": true}, "zero_optimization": {"stage": 0}})",
                           "<bf16 on the stand-in>")));
  AcceleratorOptions options;
  options.device = RunDevice::stand_in;
  options.module_path = {STANDIN_FIXTURE_DIR};
  Accelerator accelerator(std::move(plugins), options);
  PrepareInputs in;
  in.model = model_for(RunDevice::stand_in);
  in.micro_batch = 2;
  try {
    accelerator.prepare(in);
    FAIL() << "a bf16 placement of an fp32-only model was accepted";
  } catch (const ModuleError& e) {
    EXPECT_NE(std::string(e.what()).find("standin_gpt computes in fp32 only"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot run on GPU 0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tandem::test
