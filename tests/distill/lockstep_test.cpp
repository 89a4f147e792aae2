// The teacher's forward runs on all ranks in lockstep: a rank whose batch belongs to another step
// is an error naming the rank and the step, raised before any rank runs, so that nothing changes.
#include <gtest/gtest.h>

#include "distill_support.hpp"
#include "tandem/distill.hpp"

namespace tandem {
namespace {

TEST(Lockstep, EveryRankAtTheStepPasses) {
  EXPECT_NO_THROW(check_lockstep({4, 4, 4}, 4, 3, "test"));
  EXPECT_THROW(check_lockstep({4, 4}, 4, 3, "test"), std::invalid_argument);  // one entry per rank
}

TEST(Lockstep, TheFirstRankThatLeftIsNamedWithTheStep) {
  try {
    check_lockstep({12, 12, 13, 11}, 12, 4, "teacher forward");
    FAIL() << "a rank out of step was accepted";
  } catch (const LockstepError& e) {
    EXPECT_EQ(e.rank(), 2);
    EXPECT_EQ(e.step(), 12);
    EXPECT_EQ(e.rank_step(), 13);
    const std::string what = e.what();
    EXPECT_NE(what.find("teacher forward: rank 2 left the lockstep at step 12"), std::string::npos) << what;
    EXPECT_NE(what.find("step 13"), std::string::npos) << what;
  }
}

TEST(Lockstep, AMismatchedStepStopsTheDistillationStepBeforeAnythingRuns) {
  State::reset();
  AcceleratorOptions options;
  options.world_size = 2;
  Accelerator accelerator({{"student", DeepSpeedPlugin(test::trained_config(0))},
                           {"teacher", DeepSpeedPlugin(test::frozen_config(test::has_stage(3) ? 3 : 0))}},
                          options);
  PrepareInputs in;
  in.micro_batch = 2;
  in.model = test::student_model();
  Prepared student = accelerator.prepare(in);
  accelerator.select("teacher");
  in.model = test::teacher_model();
  Prepared teacher = accelerator.prepare(in);
  Distiller distiller(*student.engine(), *teacher.engine(), DistillLoss{});
  const test::Weights before = student.engine()->parameters();

  const auto b0 = test::batches(2, 1);
  distiller.step(b0, {0, 0});
  const test::Weights after_one = student.engine()->parameters();
  EXPECT_FALSE(test::bitwise_equal(after_one, before));

  // Rank 0 already fed step 2's batch while rank 1 feeds step 1's.
  const auto b1 = test::batches(2, 2);
  try {
    distiller.step(b1, {2, 1});
    FAIL() << "rank 0 out of step was accepted";
  } catch (const LockstepError& e) {
    EXPECT_EQ(e.rank(), 0);
    EXPECT_EQ(e.step(), 1);
    EXPECT_NE(std::string(e.what()).find("rank 0 left the lockstep at step 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(student.engine()->micro_steps(), 1);
  EXPECT_TRUE(test::bitwise_equal(student.engine()->parameters(), after_one));

  // In step again, the run goes on.
  EXPECT_NO_THROW(distiller.step(b1, {1, 1}));
  EXPECT_EQ(student.engine()->global_steps(), 2);
}

}  // namespace
}  // namespace tandem
