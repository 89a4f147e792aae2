// The seed's sequence for knowledge distillation, as Accelerate's docs write it: two named plugins,
// the first ("student") active; prepare the student with its optimizer and schedule; select the
// teacher; prepare the teacher with no optimizer; train. Once with one Accelerator, once with a
// second Accelerator made without arguments that shares the State (and its selection). Runs for
// each pair of stages this build has among student {0, 2} x teacher {0, 3} (the seed's pair is 2, 3).
#include <gtest/gtest.h>

#include "distill_support.hpp"
#include "tandem/distill.hpp"

namespace tandem {
namespace {

using test::batches;
using test::bitwise_equal;
using test::Weights;

struct Outcome {
  std::vector<double> losses;
  Weights student, teacher_before, teacher_after;
};

std::vector<std::pair<int, int>> stage_pairs() {
  std::vector<std::pair<int, int>> out;
  for (int s : {0, 2})
    for (int t : {0, 3})
      if (test::has_stage(s) && test::has_stage(t)) out.emplace_back(s, t);
  return out;
}

PluginSet seed_plugins(int student_stage, int teacher_stage) {
  return PluginSet{{"student", DeepSpeedPlugin(test::trained_config(student_stage))},
                   {"teacher", DeepSpeedPlugin(test::frozen_config(teacher_stage))}};
}

PrepareInputs inputs(const ModelSpec& model) {
  PrepareInputs in;
  in.model = model;
  in.micro_batch = 2;
  return in;
}

// Trains 4 steps through the Distiller and records what the test compares.
void train(Prepared& student, Prepared& teacher, Outcome& out) {
  out.teacher_before = teacher.engine()->parameters();
  Distiller distiller(*student.engine(), *teacher.engine(), DistillLoss{0.5, 2.0});
  for (int64_t step = 0; step < 4; ++step) {
    const std::vector<TokenBatch> b = batches(2, 100 + static_cast<uint64_t>(step));
    const StepReport r = distiller.step(b, {step, step});
    EXPECT_GT(r.kd_loss, 0.0);
    EXPECT_TRUE(r.stepped);
    out.losses.push_back(r.loss);
  }
  out.student = student.engine()->parameters();
  out.teacher_after = teacher.engine()->parameters();
}

TEST(SeedSequence, OneAcceleratorPreparesTheStudentThenTheTeacherAndTrains) {
  for (const auto& [s, t] : stage_pairs()) {
    SCOPED_TRACE("student ZeRO-" + std::to_string(s) + ", teacher ZeRO-" + std::to_string(t));
    State::reset();
    AcceleratorOptions options;
    options.world_size = 2;
    Accelerator accelerator(seed_plugins(s, t), options);
    // The first plugin is active, and accelerator.deepspeed_plugin is it.
    ASSERT_EQ(accelerator.active_name(), "student");
    EXPECT_EQ(accelerator.deepspeed_plugin().config().source(), "<trained-stage" + std::to_string(s) + ">");

    Prepared student = accelerator.prepare(inputs(test::student_model()));
    ASSERT_NE(student.engine(), nullptr);
    EXPECT_EQ(student.plugin_name(), "student");
    EXPECT_TRUE(student.engine()->trains());
    EXPECT_NE(student.scheduler(), nullptr);
    EXPECT_EQ(student.engine()->config().zero.stage, s);

    accelerator.select("teacher");
    EXPECT_EQ(accelerator.active_name(), "teacher");
    Prepared teacher = accelerator.prepare(inputs(test::teacher_model()));
    EXPECT_EQ(teacher.plugin_name(), "teacher");
    EXPECT_FALSE(teacher.engine()->trains());  // no optimizer: forward only
    EXPECT_EQ(teacher.scheduler(), nullptr);
    EXPECT_EQ(teacher.engine()->config().zero.stage, t);
    // Selecting the teacher left the student bound to its own config.
    EXPECT_EQ(student.engine()->config().zero.stage, s);
    EXPECT_TRUE(student.engine()->config().optimizer.has_value());

    Outcome out;
    train(student, teacher, out);
    EXPECT_LT(out.losses.back(), out.losses.front());
    EXPECT_TRUE(bitwise_equal(out.teacher_before, out.teacher_after));
    EXPECT_EQ(teacher.engine()->micro_steps(), 0);
    EXPECT_EQ(student.engine()->global_steps(), 4);
  }
}

TEST(SeedSequence, ASecondAcceleratorSharesTheStateAndGivesTheSameRun) {
  for (const auto& [s, t] : stage_pairs()) {
    SCOPED_TRACE("student ZeRO-" + std::to_string(s) + ", teacher ZeRO-" + std::to_string(t));
    AcceleratorOptions options;
    options.world_size = 2;

    // The reference: one Accelerator.
    Outcome one;
    {
      State::reset();
      Accelerator accelerator(seed_plugins(s, t), options);
      Prepared student = accelerator.prepare(inputs(test::student_model()));
      accelerator.select("teacher");
      Prepared teacher = accelerator.prepare(inputs(test::teacher_model()));
      train(student, teacher, one);
    }

    // The same with the teacher prepared through a second Accelerator made without arguments.
    State::reset();
    Accelerator first(seed_plugins(s, t), options);
    Accelerator second;
    EXPECT_EQ(&first.state(), &second.state());
    EXPECT_EQ(second.active_name(), "student");
    // A second Accelerator may not bring plugins of its own (Accelerate: NotImplementedError).
    EXPECT_THROW(Accelerator(seed_plugins(s, t), options), PluginError);

    Prepared student = first.prepare(inputs(test::student_model()));
    second.select("teacher");
    EXPECT_EQ(first.active_name(), "teacher");  // one selection, shared
    Prepared teacher = second.prepare(inputs(test::teacher_model()));
    EXPECT_EQ(teacher.plugin_name(), "teacher");
    EXPECT_FALSE(teacher.engine()->trains());
    Outcome two;
    train(student, teacher, two);

    EXPECT_EQ(one.losses, two.losses);  // bit for bit
    EXPECT_TRUE(bitwise_equal(one.student, two.student));
    EXPECT_TRUE(bitwise_equal(two.teacher_before, two.teacher_after));
  }
}

}  // namespace
}  // namespace tandem
