// Non-finite gradients: initial weights holding a NaN (a safetensors file given as init_from) make
// every step's gradient norm NaN. Each skipped step is a warning naming the step and the norm;
// max_nonfinite_steps of them in a row stop the run with a clear error, and no checkpoint of that
// state is written: the previous checkpoint in the directory stays the newest, whole.
#include <gtest/gtest.h>

#include "fault_support.hpp"
#include "tandem/checkpoint_manifest.hpp"
#include "tandem/safetensors.hpp"

namespace tandem {
namespace {

class NonFinite : public ::testing::Test {
 protected:
  void SetUp() override {
    // A healthy run leaves step-1 and step-2; its weights, with one NaN, are the poisoned start.
    const auto healthy = scratch_.write("healthy.json", test::train_run(2, "ck"));
    ASSERT_EQ(test::run_tandem({"train", healthy.string(), "-q"}, scratch_ / "healthy"), 0);
    const safetensors::File weights = safetensors::File::open(scratch_ / "ck/step-00000002/model.safetensors");
    std::vector<std::vector<float>> values;
    std::vector<safetensors::TensorData> tensors;
    for (const safetensors::TensorInfo& t : weights.tensors()) values.push_back(weights.read_f32(t.name));
    values[0][3] = std::numeric_limits<float>::quiet_NaN();
    for (size_t i = 0; i < values.size(); ++i)
      tensors.push_back(safetensors::f32_tensor(weights.tensors()[i].name, weights.tensors()[i].shape, values[i]));
    safetensors::write(scratch_ / "poisoned.safetensors", tensors);
  }
  test::Scratch scratch_{"nonfinite"};
};

TEST_F(NonFinite, TooManySkippedStepsInARowStopTheRunAndKeepThePreviousCheckpoint) {
  const std::string latest_before = test::read_text(scratch_ / "ck/latest");
  const auto run = scratch_.write(
      "poisoned.json",
      test::train_run(10, "ck", 1, R"(, "init_from": "poisoned.safetensors", "max_nonfinite_steps": 3)"));
  std::string err;
  // --overwrite: a fresh run in a directory that holds one (the fixture's) must say so.
  EXPECT_EQ(test::run_tandem({"train", run.string(), "-q", "--overwrite"}, scratch_ / "poisoned", &err), 1);
  for (int step = 1; step <= 3; ++step)
    EXPECT_NE(err.find("warning: step " + std::to_string(step) + ": non-finite gradient norm (inf); the step was "
                       "skipped (" + std::to_string(step) + " in a row; the run stops at 3)"),
              std::string::npos)
        << err;
  EXPECT_EQ(err.find("step 4:"), std::string::npos) << err;
  EXPECT_NE(err.find(run.string() + ": 3 optimizer steps in a row (steps 1 to 3) had non-finite gradients and were "
                     "skipped (max_nonfinite_steps 3); stopped without a checkpoint of this state"),
            std::string::npos)
      << err;
  // Nothing of the poisoned run was published: the healthy run's newest checkpoint is still the newest.
  EXPECT_EQ(test::read_text(scratch_ / "ck/latest"), latest_before);
  EXPECT_EQ(find_checkpoint_damage(scratch_ / "ck/step-00000002"), std::nullopt);
  EXPECT_EQ(test::read_text(scratch_ / "ck/step-00000002/trainer.json").find("poisoned"), std::string::npos);
  // The metrics say which steps were skipped.
  const std::vector<std::string> curve = test::metric_curve(scratch_ / "ck-metrics.jsonl");
  ASSERT_EQ(curve.size(), 3u);
  for (const std::string& row : curve) {
    EXPECT_NE(row.find("skipped=true"), std::string::npos) << row;
    EXPECT_NE(row.find("grad_norm=null"), std::string::npos) << row;  // JSON has no inf or NaN
  }
}

TEST_F(NonFinite, ZeroMeansNoLimitButEachSkipIsStillAWarning) {
  const auto run = scratch_.write(
      "unlimited.json",
      test::train_run(4, "ck2", 0, R"(, "init_from": "poisoned.safetensors", "max_nonfinite_steps": 0)"));
  std::string err;
  EXPECT_EQ(test::run_tandem({"train", run.string(), "-q"}, scratch_ / "unlimited", &err), 0) << err;
  EXPECT_NE(err.find("step 4: non-finite gradient norm (inf); the step was skipped (4 in a row)"), std::string::npos)
      << err;
  // The run ended inside the streak: no checkpoint of that state.
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "ck2/latest"));
}

TEST_F(NonFinite, ABadLimitIsRefusedAtItsLineAndColumn) {
  const auto run = scratch_.write("bad.json", test::train_run(4, "ck3", 0, R"(, "max_nonfinite_steps": -1)"));
  std::string err;
  EXPECT_EQ(test::run_tandem({"train", run.string(), "-q"}, scratch_ / "bad", &err), 2);
  EXPECT_NE(err.find(run.string() + ":"), std::string::npos) << err;
  EXPECT_NE(err.find("max_nonfinite_steps"), std::string::npos) << err;
}

}  // namespace
}  // namespace tandem
