// Checkpoints that move (issue 21): a checkpoint written under any ZeRO stage 0-3 and world size 1-4
// loads under any other, with its optimizer state.
//
// What "the same state" means here: the real (unpadded) elements of the master weights and of each
// optimizer state, gathered over the ranks, and the step counters and schedule. The test gathers
// them with its own reading of the documented format (docs/checkpoints.md), not the engine's, and
// asserts them equal bit for bit after the move; then it trains on and asserts the losses equal bit
// for bit to an uninterrupted run at the new topology from the same state: the run that saved, where
// the world size is the same (stages agree bit for bit at one world size, tests/stages), else a run
// at the new world size that got the same state the other way round, through a world of one.
// Gradients are averaged in another order over another number of ranks, so runs at two world sizes
// are not expected to agree with each other after the move, only with one at the same world size.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <map>
#include <tuple>

#include "engine_support.hpp"
#include "tandem/safetensors.hpp"

namespace tandem {
namespace {

using test::random_batch;
using test::rows_of;

constexpr int64_t kRows = 12;      // global rows per step: divisible by every world size 1-4
constexpr int kStepsBefore = 3;    // steps before the checkpoint
constexpr int kStepsAfter = 2;     // steps after it

std::string config_text(int stage, const std::string& optimizer, bool offload) {
  return R"({"train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": 1, "gradient_clipping": 1.0,
             "optimizer": {"type": ")" +
         optimizer + R"(", "params": {"lr": 0.01, "weight_decay": 0.1}},
             "scheduler": {"type": "WarmupDecayLR", "params": {"warmup_num_steps": 2, "total_num_steps": 8,
                                                              "warmup_max_lr": 0.01}},
             "zero_optimization": {"stage": )" +
         std::to_string(stage) + (offload ? R"(, "offload_optimizer": {"device": "cpu"})" : "") + "}}";
}

struct Topology {
  int stage = 0;
  int64_t world = 1;
  std::string optimizer = "AdamW";
  bool offload = false;
  std::string name() const {
    return "ZeRO-" + std::to_string(stage) + " x " + std::to_string(world) + (offload ? " offloaded" : "") + " " +
           optimizer;
  }
};

Prepared prepare(const Topology& t, uint64_t seed = 7, ModelSpec model = test::tiny_gpt()) {
  State::reset();
  PluginSet plugins;
  plugins.add("model", DeepSpeedPlugin(load_config_text(config_text(t.stage, t.optimizer, t.offload), "<reshard>")));
  AcceleratorOptions options;
  options.world_size = t.world;
  Accelerator accelerator(std::move(plugins), options);
  PrepareInputs in;
  model.seed = seed;
  in.model = std::move(model);
  in.micro_batch = kRows / t.world;
  return accelerator.prepare(in);
}

// Steps [from, to): each step's global batch of kRows rows, split over the ranks in order.
std::vector<double> train(Engine& e, int from, int to) {
  std::vector<double> losses;
  const int64_t w = e.world_size(), rows = kRows / w;
  for (int s = from; s < to; ++s) {
    const TokenBatch global = random_batch(kRows, 8, 32, 500 + static_cast<uint64_t>(s));
    std::vector<TokenBatch> batches;
    for (int64_t r = 0; r < w; ++r) batches.push_back(rows_of(global, r * rows, rows));
    e.forward(batches);
    e.backward(LossSpec{&batches});
    losses.push_back(e.step().loss);
  }
  return losses;
}

// The checkpoint's state, gathered by the test's own reading of the format: "master" and each
// "optimizer.<name>", the real elements of every group concatenated in group order. Each rank file's
// master.<g> lies at master.<g>.offset in group g's buffer; an optimizer state is the rank's master
// shards' sections, in group order, of their lengths.
std::map<std::string, std::vector<float>> gathered(const std::filesystem::path& dir) {
  const json::Document engine = json::parse_file(dir / "engine.json");
  const int64_t world = engine.root.find("world_size")->as_int();
  std::vector<size_t> numel;
  for (const json::Value& g : engine.root.find("layout")->find("groups")->items())
    numel.push_back(static_cast<size_t>(g.find("numel")->as_int()));
  std::map<std::string, std::vector<std::vector<float>>> groups;  // state -> group -> real elements
  for (int64_t r = 0; r < world; ++r) {
    const safetensors::File file = safetensors::File::open(dir / ("rank" + std::to_string(r) + ".safetensors"));
    std::vector<size_t> offsets, lengths;
    for (size_t g = 0; g < numel.size(); ++g) {
      offsets.push_back(std::stoull(*file.metadata_value("master." + std::to_string(g) + ".offset")));
      lengths.push_back(file.get("master." + std::to_string(g)).numel());
    }
    for (const safetensors::TensorInfo& t : file.tensors()) {
      const std::vector<float> values = file.read_f32(t.name);
      const bool master = t.name.rfind("master.", 0) == 0;
      const std::string state = master ? "master" : t.name;
      auto& out = groups[state];
      out.resize(numel.size());
      size_t section = 0;
      for (size_t g = 0; g < numel.size(); ++g) {
        if (master && t.name != "master." + std::to_string(g)) continue;
        out[g].resize(numel[g]);
        const size_t first = master ? 0 : section;
        for (size_t i = 0; i < lengths[g]; ++i)
          if (offsets[g] + i < numel[g]) out[g][offsets[g] + i] = values[first + i];
        section += lengths[g];
      }
    }
  }
  std::map<std::string, std::vector<float>> out;
  for (auto& [state, per_group] : groups)
    for (const std::vector<float>& g : per_group) out[state].insert(out[state].end(), g.begin(), g.end());
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void expect_same_state(const std::map<std::string, std::vector<float>>& a,
                       const std::map<std::string, std::vector<float>>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (const auto& [state, values] : a) {
    ASSERT_TRUE(b.count(state)) << what << ": no " << state;
    EXPECT_TRUE(same_bits(values, b.at(state))) << what << ": " << state << " differs";
  }
}

std::vector<float> all_parameters(const Engine& e) {
  std::vector<float> out;
  for (const auto& [name, values] : e.parameters()) out.insert(out.end(), values.begin(), values.end());
  return out;
}

// A run at topology A: trained kStepsBefore steps and saved, then trained on (the uninterrupted run).
struct Source {
  std::filesystem::path dir;
  std::map<std::string, std::vector<float>> state;
  std::vector<float> parameters;
  int64_t scheduler_iteration = 0;
  std::vector<double> continued;
};

// Memory-backed where the machine has it: these tests check bits, not durability, and each save's
// fsyncs would otherwise be most of their time.
const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    std::error_code ec;
    const std::filesystem::path shm = "/dev/shm";
    if (std::filesystem::is_directory(shm, ec) && ::access(shm.c_str(), W_OK) == 0) {
      std::filesystem::path d = shm / ("tandem-reshard-" + std::to_string(::getpid()));
      std::filesystem::remove_all(d, ec);
      std::filesystem::create_directories(d);
      return d;
    }
    return test::temp_dir("reshard");
  }();
  return dir;
}

// Removes the scratch directory when the test binary ends.
struct ScratchCleanup : ::testing::Environment {
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(scratch(), ec);
  }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new ScratchCleanup);

const Source& source(const Topology& a) {
  static std::map<std::string, Source> sources;
  auto [it, fresh] = sources.try_emplace(a.name());
  Source& s = it->second;
  if (!fresh) return s;
  s.dir = scratch() / ("from-" + std::to_string(sources.size()));
  std::filesystem::create_directories(s.dir);
  Prepared p = prepare(a);
  train(*p.engine(), 0, kStepsBefore);
  p.engine()->save(s.dir);
  s.state = gathered(s.dir);
  s.parameters = all_parameters(*p.engine());
  s.scheduler_iteration = p.engine()->scheduler()->iteration();
  s.continued = train(*p.engine(), kStepsBefore, kStepsBefore + kStepsAfter);
  return s;
}

// The losses at world size `world` after loading `from`'s state by way of a world of one (ZeRO-0):
// the reference for a move between world sizes.
const std::vector<double>& through_world_one(const Topology& from, int64_t world) {
  static std::map<std::string, std::vector<double>> runs;
  const std::string key = from.name() + " -> " + std::to_string(world);
  if (auto it = runs.find(key); it != runs.end()) return it->second;
  const std::filesystem::path dir = scratch() / ("one-" + std::to_string(runs.size()));
  std::filesystem::create_directories(dir);
  {
    Prepared one = prepare(Topology{0, 1, from.optimizer, false}, 11);
    one.engine()->load(source(from).dir);
    one.engine()->save(dir);
  }
  Prepared p = prepare(Topology{0, world, from.optimizer, false}, 13);
  p.engine()->load(dir);
  return runs[key] = train(*p.engine(), kStepsBefore, kStepsBefore + kStepsAfter);
}

// Loads A's checkpoint at B and checks everything above; returns B's continued losses.
std::vector<double> move_and_check(const Topology& a, const Topology& b) {
  const Source& s = source(a);
  const std::string what = a.name() + " -> " + b.name();
  Prepared p = prepare(b, /*seed=*/999);  // other initial weights: everything must come from the files
  Engine& e = *p.engine();
  e.load(s.dir);
  EXPECT_EQ(e.global_steps(), kStepsBefore) << what;
  EXPECT_EQ(e.scheduler()->iteration(), s.scheduler_iteration) << what;
  EXPECT_TRUE(same_bits(all_parameters(e), s.parameters)) << what << ": the weights differ";
  const std::filesystem::path dir = scratch() / "moved";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  e.save(dir);
  expect_same_state(s.state, gathered(dir), what);
  return train(e, kStepsBefore, kStepsBefore + kStepsAfter);
}

// One case per saving topology, each moved to all 16 (so that a process trains its source once:
// ctest runs every case in a process of its own).
using Saved = std::tuple<int, int>;  // stage, world size

class ReshardFrom : public ::testing::TestWithParam<Saved> {};

TEST_P(ReshardFrom, EveryStageAndWorldGetsTheWholeStateBitForBitAndTrainsOnAsAnUninterruptedRun) {
  const Topology a{std::get<0>(GetParam()), std::get<1>(GetParam())};
  for (int stage_b = 0; stage_b < 4; ++stage_b)
    for (int64_t world_b = 1; world_b <= 4; ++world_b) {
      const Topology b{stage_b, world_b};
      SCOPED_TRACE(a.name() + " -> " + b.name());
      const std::vector<double> losses = move_and_check(a, b);
      if (a.world == b.world)
        EXPECT_EQ(losses, source(a).continued);
      else
        EXPECT_EQ(losses, through_world_one(a, b.world));
    }
}

std::string saved_name(const ::testing::TestParamInfo<Saved>& info) {
  return "zero" + std::to_string(std::get<0>(info.param)) + "x" + std::to_string(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(EveryStageAndWorld, ReshardFrom,
                         ::testing::Combine(::testing::Range(0, 4), ::testing::Range(1, 5)), saved_name);

TEST(ReshardOffload, OffloadedAndOnDeviceOptimizerStateLoadIntoEachOther) {
  // cpu_adamw (offload_optimizer: cpu) and adamw keep the same states, exp_avg and exp_avg_sq, in
  // the same shard layout: each loads the other's, at the same topology and at another.
  const Topology offloaded{2, 2, "AdamW", true}, on_device{2, 2}, offloaded_3{2, 3, "AdamW", true};
  const Topology on_device_z1{1, 3}, on_device_z3{3, 3};
  move_and_check(offloaded, on_device);
  move_and_check(offloaded, on_device_z3);
  move_and_check(on_device, offloaded);
  move_and_check(on_device_z1, offloaded_3);
  // Both compute Adam the same way to the bit (modules/optimizer/common/adam_kernel.hpp), so the
  // offloaded run moved on device trains on as the offloaded run itself did.
  EXPECT_EQ(move_and_check(offloaded, on_device), source(offloaded).continued);
  EXPECT_EQ(move_and_check(on_device, offloaded), source(on_device).continued);
}

TEST(ReshardOtherState, LionsSingleMomentMovesAndAnotherOptimizersStateIsRefusedByName) {
  const Topology lion_a{1, 2, "Lion"}, lion_b{3, 3, "Lion"};
  EXPECT_EQ(move_and_check(lion_a, Topology{0, 2, "Lion"}), source(lion_a).continued);
  move_and_check(lion_a, lion_b);
  EXPECT_EQ(source(lion_a).state.count("optimizer.exp_avg"), 1u);
  EXPECT_EQ(source(lion_a).state.count("optimizer.exp_avg_sq"), 0u);

  Prepared adam = prepare(Topology{2, 3});
  try {
    adam.engine()->load(source(lion_a).dir);
    FAIL() << "Lion's state loaded into AdamW";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rank0.safetensors: the checkpoint's optimizer state is exp_avg; this engine's optimizer"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("keeps exp_avg, exp_avg_sq"), std::string::npos) << m;
  }
}

TEST(ReshardOtherModel, AModelOfOtherShapesIsRefusedNamingTheTensor) {
  const Topology a{2, 2};
  ModelSpec wider = test::tiny_gpt();
  wider.params = json::parse(R"({"n_layer": 2, "n_head": 2, "n_embd": 24, "vocab_size": 32, "block_size": 8})").root;
  Prepared p = prepare(Topology{3, 3}, 7, wider);
  try {
    p.engine()->load(source(a).dir);
    FAIL() << "a model of other shapes loaded";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("wte.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("[32, 24]"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace tandem
