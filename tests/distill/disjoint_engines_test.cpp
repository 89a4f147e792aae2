// Disjoint models, the seed's second scenario: two plugins, two Accelerators (the second made
// without arguments, sharing the State), one engine each. Each engine has its own gradients,
// accumulation counter, optimizer, scheduler and checkpoint: a backward in one leaves every bit of
// the other's state as it was, and each model ends exactly where it ends when trained alone.
#include <gtest/gtest.h>

#include "distill_support.hpp"

namespace tandem {
namespace {

using test::batches;
using test::bitwise_equal;
using test::Weights;

constexpr int kGas = 2;

PrepareInputs inputs(uint64_t seed) {
  PrepareInputs in;
  in.model = test::gpt(1, 8, seed);
  in.micro_batch = 2;
  return in;
}

// The micro-batches each model sees: its own data, so that sharing anything would show.
std::vector<TokenBatch> data_of(int model, int micro) { return batches(2, 1000 * static_cast<uint64_t>(model) + micro); }

// Every file of an engine checkpoint, as bytes: the weights, each rank's master shards and
// optimizer state, the counters and the scheduler's state.
std::vector<std::vector<char>> saved_state(const Engine& e, const std::string& name) {
  const auto dir = test::temp_dir(name);
  e.save(dir);
  std::vector<std::vector<char>> out;
  for (const char* f : {"engine.json", "model.safetensors", "rank0.safetensors", "rank1.safetensors"})
    out.push_back(test::file_bytes(dir / f));
  std::filesystem::remove_all(dir);
  return out;
}

// A model trained alone, in a State of its own: the reference.
Weights alone(int stage, uint64_t seed, int model) {
  State::reset();
  AcceleratorOptions options;
  options.world_size = 2;
  Accelerator accelerator({{"only", DeepSpeedPlugin(test::trained_config(stage, kGas))}}, options);
  Prepared p = accelerator.prepare(inputs(seed));
  for (int micro = 0; micro < 2 * kGas; ++micro) {
    const auto b = data_of(model, micro);
    p.engine()->forward(b, true);
    p.engine()->backward(LossSpec{&b});
    p.engine()->step();
  }
  return p.engine()->parameters();
}

TEST(DisjointEngines, ABackwardInOneLeavesTheOtherBitwiseUnchanged) {
  // The first model under stage 0, the second under ZeRO-2 where this build has it.
  const int first_stage = 0, second_stage = test::has_stage(2) ? 2 : 0;
  SCOPED_TRACE("first ZeRO-" + std::to_string(first_stage) + ", second ZeRO-" + std::to_string(second_stage));
  const Weights first_alone = alone(first_stage, 1, 1), second_alone = alone(second_stage, 2, 2);

  State::reset();
  AcceleratorOptions options;
  options.world_size = 2;
  Accelerator first_accelerator({{"first_model", DeepSpeedPlugin(test::trained_config(first_stage, kGas))},
                                 {"second_model", DeepSpeedPlugin(test::trained_config(second_stage, kGas))}},
                                options);
  Accelerator second_accelerator;
  first_accelerator.select("first_model");
  Prepared first = first_accelerator.prepare(inputs(1));
  second_accelerator.select("second_model");
  Prepared second = second_accelerator.prepare(inputs(2));
  Engine& a = *first.engine();
  Engine& b = *second.engine();
  ASSERT_NE(first.scheduler(), second.scheduler());

  auto micro_step = [](Engine& e, const std::vector<TokenBatch>& data) {
    e.forward(data, true);
    e.backward(LossSpec{&data});
    return e.step();
  };
  for (int window = 0; window < 2; ++window) {
    // b holds gradients of one micro-step; a runs a whole window (and steps) in between.
    micro_step(b, data_of(2, 2 * window));
    const auto b_state = saved_state(b, "b-before");
    const double b_lr = second.scheduler()->values().lrs.front();
    const int64_t b_micro = b.micro_steps();
    micro_step(a, data_of(1, 2 * window));
    const StepReport a_step = micro_step(a, data_of(1, 2 * window + 1));
    EXPECT_TRUE(a_step.stepped);
    EXPECT_EQ(saved_state(b, "b-after"), b_state) << "a's backward and step changed b's saved state";
    EXPECT_EQ(second.scheduler()->values().lrs.front(), b_lr);
    EXPECT_EQ(b.micro_steps(), b_micro);
    EXPECT_EQ(b.global_steps(), window);

    // And the other way round: a's state is b's to leave alone.
    const auto a_state = saved_state(a, "a-before");
    const StepReport b_step = micro_step(b, data_of(2, 2 * window + 1));
    EXPECT_TRUE(b_step.stepped);
    EXPECT_EQ(saved_state(a, "a-after"), a_state);
  }
  // b's accumulated gradients were its own: both models end exactly where they end alone.
  EXPECT_TRUE(bitwise_equal(a.parameters(), first_alone));
  EXPECT_TRUE(bitwise_equal(b.parameters(), second_alone));
  EXPECT_EQ(a.global_steps(), 2);
  EXPECT_EQ(b.global_steps(), 2);
}

TEST(DisjointEngines, EachEngineCheckpointsAndResumesOnItsOwn) {
  State::reset();
  AcceleratorOptions options;
  options.world_size = 2;
  Accelerator first_accelerator({{"first_model", DeepSpeedPlugin(test::trained_config(0, 1))},
                                 {"second_model", DeepSpeedPlugin(test::trained_config(0, 1))}},
                                options);
  Accelerator second_accelerator;
  Prepared first = first_accelerator.prepare(inputs(1), "first_model");
  Prepared second = second_accelerator.prepare(inputs(2), "second_model");
  for (int micro = 0; micro < 2; ++micro)
    for (auto* p : {&first, &second}) {
      const auto data = data_of(p == &first ? 1 : 2, micro);
      p->engine()->forward(data, true);
      p->engine()->backward(LossSpec{&data});
      p->engine()->step();
    }
  const auto dir = test::temp_dir("own-checkpoints");
  std::filesystem::create_directories(dir / "first");
  std::filesystem::create_directories(dir / "second");
  first.engine()->save(dir / "first");
  second.engine()->save(dir / "second");
  const Weights first_then = first.engine()->parameters();

  // Train the second further, then load each from its own checkpoint: each comes back exactly.
  const auto more = data_of(2, 9);
  second.engine()->forward(more, true);
  second.engine()->backward(LossSpec{&more});
  second.engine()->step();
  Prepared second_again = second_accelerator.prepare(inputs(2), "second_model");
  second_again.engine()->load(dir / "second");
  Prepared first_again = first_accelerator.prepare(inputs(1), "first_model");
  first_again.engine()->load(dir / "first");
  EXPECT_TRUE(bitwise_equal(first_again.engine()->parameters(), first_then));
  EXPECT_EQ(second_again.engine()->global_steps(), 2);
  // One more step from the checkpoint equals the step the second model took after it.
  second_again.engine()->forward(more, true);
  second_again.engine()->backward(LossSpec{&more});
  second_again.engine()->step();
  EXPECT_TRUE(bitwise_equal(second_again.engine()->parameters(), second.engine()->parameters()));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tandem
