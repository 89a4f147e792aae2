// The micro-step as DeepSpeed's engine reads it: forward, backward, step. step() steps the optimizer
// on the accumulation boundary only and elsewhere only counts the micro-step; a step() without a
// backward(), or a second backward() without step(), is refused before it changes anything.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "engine_support.hpp"

namespace tandem {
namespace {

using test::prepare_tiny;
using test::random_batch;
using test::tiny_config;

std::vector<TokenBatch> batches_of(int seed) { return {random_batch(2, 8, 32, seed), random_batch(2, 8, 32, seed + 50)}; }

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

TEST(EngineStep, BackwardLeavesTheWeightsToStepAndStepAppliesThem) {
  Prepared p = prepare_tiny(tiny_config(0, 1, 1.0), 2, 2);
  Engine& e = *p.engine();
  const auto before = e.parameters();
  const auto b = batches_of(1);
  e.forward(b);
  const BackwardReport back = e.backward(LossSpec{&b});
  EXPECT_TRUE(back.boundary);
  EXPECT_EQ(e.parameters(), before) << "backward() changed the weights: it must leave the update to step()";
  EXPECT_EQ(e.global_steps(), 0);
  EXPECT_EQ(e.micro_steps(), 0);
  const StepReport r = e.step();
  EXPECT_TRUE(r.boundary);
  EXPECT_TRUE(r.stepped);
  EXPECT_EQ(r.loss, back.loss);  // the report carries the backward's loss
  EXPECT_EQ(r.global_steps, 1);
  EXPECT_EQ(e.micro_steps(), 1);
  EXPECT_NE(e.parameters(), before);
}

TEST(EngineStep, StepAtAMicroStepInsideTheWindowOnlyCountsIt) {
  // DeepSpeed's engine.step() away from the boundary: no optimizer step, no schedule step, the
  // micro-step counted. The window's gradients wait for the boundary's step. (warmup_min_lr > 0:
  // WarmupLR's first step runs at its minimum, which at 0 would leave the weights as they were.)
  Prepared p = prepare_tiny(
      tiny_config(0, 2, 1.0, R"(, "scheduler": {"type": "WarmupLR", "params": {"warmup_num_steps": 4, "warmup_min_lr": 0.001, "warmup_max_lr": 0.01}})"),
      2, 2);
  Engine& e = *p.engine();
  const auto before = e.parameters();
  ASSERT_NE(p.scheduler(), nullptr);
  const int64_t iteration = p.scheduler()->iteration();
  const auto b = batches_of(2);
  e.forward(b);
  EXPECT_FALSE(e.backward(LossSpec{&b}).boundary);
  const StepReport inside = e.step();
  EXPECT_FALSE(inside.boundary);
  EXPECT_FALSE(inside.stepped);
  EXPECT_EQ(inside.global_steps, 0);
  EXPECT_EQ(e.micro_steps(), 1);
  EXPECT_EQ(e.parameters(), before);
  EXPECT_EQ(p.scheduler()->iteration(), iteration);  // the schedule did not step
  const auto c = batches_of(3);
  e.forward(c);
  EXPECT_TRUE(e.backward(LossSpec{&c}).boundary);
  const StepReport boundary = e.step();
  EXPECT_TRUE(boundary.stepped);
  EXPECT_EQ(boundary.global_steps, 1);
  EXPECT_EQ(e.micro_steps(), 2);
  EXPECT_EQ(p.scheduler()->iteration(), iteration + 1);
  EXPECT_NE(e.parameters(), before);
}

TEST(EngineStep, AStepWithoutABackwardIsRefusedAndChangesNothing) {
  Prepared p = prepare_tiny(tiny_config(0, 1, 1.0), 2, 2);
  Engine& e = *p.engine();
  const std::string fresh = message_of([&] { e.step(); });
  EXPECT_NE(fresh.find("model: step() without a backward()"), std::string::npos) << fresh;
  EXPECT_NE(fresh.find("forward, backward, step"), std::string::npos) << fresh;
  const auto b = batches_of(4);
  e.forward(b);
  e.backward(LossSpec{&b});
  e.step();
  const auto after_one = e.parameters();
  const std::string twice = message_of([&] { e.step(); });  // a second step() for one backward()
  EXPECT_NE(twice.find("step() without a backward() since the last step() (micro-step 1)"), std::string::npos) << twice;
  EXPECT_EQ(e.global_steps(), 1);
  EXPECT_EQ(e.micro_steps(), 1);
  EXPECT_EQ(e.parameters(), after_one);
}

TEST(EngineStep, ASecondBackwardPastTheBoundaryWithoutStepIsRefusedAndTheWindowStillSteps) {
  // Code written for a backward() that also stepped: its second backward() is an error that says
  // what to call, and the gradients of the first are applied by the step() that follows, exactly
  // as an engine that was never refused applies them.
  Prepared p = prepare_tiny(tiny_config(0, 1, 1.0), 2, 2);
  Engine& e = *p.engine();
  const auto b = batches_of(5), c = batches_of(6);
  e.forward(b);
  e.backward(LossSpec{&b});
  e.forward(c);
  const std::string again = message_of([&] { e.backward(LossSpec{&c}); });
  EXPECT_NE(again.find("model: a second backward() without step() after the one of micro-step 1"), std::string::npos)
      << again;
  EXPECT_NE(again.find("call step() after each backward()"), std::string::npos) << again;
  EXPECT_NE(again.find("ended an accumulation window"), std::string::npos) << again;
  EXPECT_TRUE(e.step().stepped);

  Prepared twin = prepare_tiny(tiny_config(0, 1, 1.0), 2, 2);
  twin.engine()->forward(b);
  twin.engine()->backward(LossSpec{&b});
  twin.engine()->step();
  EXPECT_EQ(e.parameters(), twin.engine()->parameters());  // bit for bit: the refused call changed nothing
}

TEST(EngineStep, ASecondBackwardInsideTheWindowIsRefusedToo) {
  // DeepSpeed counts the micro-step in step(): without it the next backward would reduce into the
  // same micro-step's place in the window.
  Prepared p = prepare_tiny(tiny_config(0, 4, 1.0), 2, 2);
  Engine& e = *p.engine();
  const auto b = batches_of(7);
  e.forward(b);
  e.backward(LossSpec{&b});
  e.forward(b);
  const std::string again = message_of([&] { e.backward(LossSpec{&b}); });
  EXPECT_NE(again.find("a second backward() without step()"), std::string::npos) << again;
  EXPECT_EQ(again.find("ended an accumulation window"), std::string::npos) << again;
}

TEST(EngineStep, AForwardOnlyEngineRefusesStep) {
  Prepared p = prepare_tiny(load_config_text(R"({"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 3}})"),
                            2, 2);
  const std::string m = message_of([&] { p.engine()->step(); });
  EXPECT_NE(m.find("step on an engine without an optimizer"), std::string::npos) << m;
}

}  // namespace
}  // namespace tandem
