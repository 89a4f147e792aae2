// The stage conformance suite; see tandem/conformance/stage.hpp for what it checks and how a
// module joins.
#include <gtest/gtest.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tandem/module.hpp"

#include "../common/thread_ranks.hpp"
#include "tandem/conformance/stage.hpp"
#include "tandem/conformance/stage_toy.hpp"

namespace tandem::test {

std::string stage_factory_name(const ::testing::TestParamInfo<StageFactory>& info) { return info.param.name; }
void PrintTo(const StageFactory& factory, std::ostream* os) { *os << factory.name << " " << factory.params_json; }

// Every suite is linked whole into every conformance test (TandemConformance.cmake).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StageConformance);

namespace {

constexpr int kSteps = 3;
constexpr double kClip = 5.0;  // far below the synthetic gradients' norm: clipping scales every step

struct ToyRun {
  int world;
  int gas;      // micro-steps per step
  bool clip;    // gradient_clipping kClip, or off
  int64_t bucket;
  bool overlap = true;  // overlap_comm (on a GPU: reductions on the side queue)
  std::string name() const {
    return "world " + std::to_string(world) + ", gas " + std::to_string(gas) + ", clipping " +
           (clip ? "on" : "off") + ", reduce_bucket_size " + std::to_string(bucket) + ", overlap_comm " +
           (overlap ? "on" : "off");
  }
};

struct Outcome {
  std::vector<double> losses;                // rank 0's, every micro-step
  std::vector<double> norms;                 // rank 0's, every step
  std::vector<std::vector<double>> all_norms;  // every rank's
  std::vector<std::vector<float>> weights;   // rank 0's view of the final weights
};

// Where the tested stage keeps its state: host memory (the CPU), a stand-in GPU with the optimizer
// there too, or a stand-in GPU with the optimizer offloaded to the host (cpu_adamw in tiles of 7:
// many tiles, streamed through the stage's hooks).
enum class Placement { host, device, offloaded };

Outcome train(const ToyModules& modules, bool reference, const ToyRun& run, Placement placement = Placement::host) {
  const auto comm = modules.comm(run.world);
  Outcome out;
  out.all_norms.resize(static_cast<size_t>(run.world));
  run_ranks_or_throw(run.world, [&](int rank) {
    tandem_stage_options options = toy_stage_options(run.bucket);
    options.overlap_comm = run.overlap ? 1 : 0;
    std::unique_ptr<StandInDevice> device;
    if (placement != Placement::host) device = std::make_unique<StandInDevice>();
    options.offload_optimizer = placement == Placement::offloaded ? 1 : 0;
    ToyRank r(modules.stage(reference, "toy.stage"),
              placement == Placement::offloaded ? modules.optimizer("toy.optimizer", "cpu_adamw", R"("tile_elements": 7)")
                                                : modules.optimizer("toy.optimizer"),
              *comm, rank, run.world, options, true, device.get());
    r.set_weights(toy_initial_weights());
    std::vector<double> losses;
    for (int step = 1; step <= kSteps; ++step) {
      for (int micro = 0; micro < run.gas; ++micro) {
        const std::vector<std::vector<float>> current = r.weights();  // collective when partitioned
        losses.push_back(r.micro_step(step, micro, current));
      }
      const double n = r.norm();
      out.all_norms[static_cast<size_t>(rank)].push_back(n);
      r.step(step, n, run.clip ? kClip : 0.0);
    }
    const auto w = r.weights();
    if (device) {
      EXPECT_EQ(device->violation(), "") << "rank " << rank;
    }
    if (rank == 0) {
      out.weights = w;
      out.losses = losses;
    }
  });
  out.norms = out.all_norms.front();
  return out;
}

std::vector<ToyRun> runs() {
  std::vector<ToyRun> all;
  for (int world = 1; world <= 4; ++world)
    for (int gas : {1, 2})
      for (bool clip : {false, true})
        for (int64_t bucket : {int64_t{1}, int64_t{1000}}) all.push_back(ToyRun{world, gas, clip, bucket});
  return all;
}

TEST_P(StageConformance, TrainsAsZeroZeroBitForBit) {
  const ToyModules modules(GetParam());
  const std::vector<std::vector<float>> initial = toy_initial_weights();
  for (const ToyRun& run : runs()) {
    SCOPED_TRACE(run.name());
    const Outcome reference = train(modules, true, run);
    const Outcome tested = train(modules, false, run);
    ASSERT_EQ(reference.norms.size(), static_cast<size_t>(kSteps));
    ASSERT_EQ(reference.losses.size(), static_cast<size_t>(kSteps * run.gas));
    if (run.clip) {
      for (double n : reference.norms) ASSERT_GT(n, kClip) << "the steps must clip";
    }
    for (const auto& n : tested.all_norms) EXPECT_EQ(n, tested.norms) << "every rank computes the same norm";
    EXPECT_EQ(tested.norms, reference.norms) << "gradient norms";
    EXPECT_EQ(tested.losses, reference.losses) << "losses (the weights the forward pass sees)";
    ASSERT_EQ(tested.weights.size(), reference.weights.size());
    for (size_t i = 0; i < reference.weights.size(); ++i) {
      EXPECT_EQ(std::memcmp(tested.weights[i].data(), reference.weights[i].data(),
                            reference.weights[i].size() * sizeof(float)),
                0)
          << toy_params()[i].name << ": final weights differ";
      EXPECT_NE(reference.weights[i], initial[i]) << toy_params()[i].name << " never moved";
    }
    if (::testing::Test::HasFailure()) return;  // one failing configuration says enough
  }
}

// The same on a GPU (a stand-in one: tandem/conformance/stand_in_device.hpp), with the optimizer on
// the device and offloaded to the host (ZeRO-Offload), with overlap_comm off and on: the stage keeps
// everything the model sees in the device's memory, waits for every copy it queued before using it,
// never races its side queue (the stand-in fails a main-stream call that touches what side-queued
// work uses before join_side), and still trains as zero0 on the host does, bit for bit. A stage that does not offload on a GPU (it says so: Unsupported) is
// checked on the device alone.
// Whether the stage sets up with its optimizer offloaded on a GPU (a stage may refuse: Unsupported).
bool offloads_on_a_gpu(const ToyModules& modules) {
  const auto comm = modules.comm(1);
  StandInDevice device;
  tandem_stage_options options = toy_stage_options(1000);
  options.offload_optimizer = 1;
  try {
    ToyRank r(modules.stage(false, "toy.stage"), modules.optimizer("toy.optimizer", "cpu_adamw"), *comm, 0, 1,
              options, true, &device);
    return true;
  } catch (const sdk::Unsupported& e) {
    std::cout << "[ skipped  ] " << " offloaded on a GPU: the stage refuses it: " << e.what() << "\n";
    return false;
  }
}

TEST_P(StageConformance, TrainsAsZeroZeroOnAGpuBitForBit) {
  const ToyModules modules(GetParam());
  if (modules.stage_abi_minor() < 2)
    GTEST_SKIP() << "built against SDK 1." << modules.stage_abi_minor()
                 << ", which keeps host memory: the host runs such a stage on the CPU only";
  const bool offloads = offloads_on_a_gpu(modules);
  for (const Placement placement : {Placement::device, Placement::offloaded}) {
    if (placement == Placement::offloaded && !offloads) continue;
    for (ToyRun run : runs())
      for (const bool overlap : {false, true}) {
        if (run.bucket == 1 && run.gas == 1) continue;  // the host test covers the rest; these suffice here
        run.overlap = overlap;
        SCOPED_TRACE(run.name() + (placement == Placement::device ? ", on the GPU" : ", optimizer offloaded"));
        const Outcome reference = train(modules, true, run);
        const Outcome tested = train(modules, false, run, placement);
        EXPECT_EQ(tested.norms, reference.norms) << "gradient norms";
        EXPECT_EQ(tested.losses, reference.losses) << "losses (the weights the forward pass sees)";
        ASSERT_EQ(tested.weights.size(), reference.weights.size());
        for (size_t i = 0; i < reference.weights.size(); ++i)
          EXPECT_EQ(std::memcmp(tested.weights[i].data(), reference.weights[i].data(),
                                reference.weights[i].size() * sizeof(float)),
                    0)
              << toy_params()[i].name << ": final weights differ";
        if (::testing::Test::HasFailure()) return;
      }
  }
}

}  // namespace
}  // namespace tandem::test
