// A damaged newest checkpoint (a flipped byte, a truncated file, a lost manifest) is never loaded:
// `tandem train --resume` says why and resumes from the one before, and the run's metrics then equal
// an undisturbed run's bit for bit. With every checkpoint damaged, resuming is an error rather than a
// silent start from scratch; loading or consolidating a damaged checkpoint directly is refused.
// keep_checkpoints bounds how many stay.
#include <gtest/gtest.h>

#include "fault_support.hpp"
#include "tandem/checkpoint_manifest.hpp"

namespace tandem {
namespace {

using test::run_tandem;

class DamagedCheckpoint : public ::testing::Test {
 protected:
  // Steps 1-3 of a 5-step run, a checkpoint after each, all three kept.
  void interrupted_run() {
    const auto file = scratch_.write("run.json", test::train_run(5, "ck", 1, R"(, "keep_checkpoints": 3)"));
    ASSERT_EQ(run_tandem({"train", file.string(), "-q", "--stop-after", "3"}, scratch_ / "first"), 0);
    for (int s = 1; s <= 3; ++s) ASSERT_EQ(find_checkpoint_damage(step(s)), std::nullopt) << s;
  }
  std::filesystem::path step(int s) const { return scratch_ / ("ck/step-0000000" + std::to_string(s)); }
  // The undisturbed 5-step run's metrics.
  std::vector<std::string> reference() const {
    const auto file = scratch_.write("ref.json", test::train_run(5, "ref"));
    EXPECT_EQ(run_tandem({"train", file.string(), "-q"}, scratch_ / "ref"), 0);
    return test::metric_curve(scratch_ / "ref-metrics.jsonl");
  }
  std::string resume(int expect_exit = 0) const {
    std::string err;
    EXPECT_EQ(run_tandem({"train", (scratch_ / "run.json").string(), "-q", "--resume"}, scratch_ / "resume", &err),
              expect_exit)
        << err;
    return err;
  }

  test::Scratch scratch_{"damaged"};
};

TEST_F(DamagedCheckpoint, FlippedByteInAShardFallsBackToThePreviousAndResumesExactly) {
  interrupted_run();
  {
    std::fstream f(step(3) / "rank1.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-100, std::ios::end);
    const char c = static_cast<char>(f.peek());
    f.put(static_cast<char>(c ^ 0x10));
  }
  const std::string err = resume();
  EXPECT_NE(err.find("checkpoint step-00000003 is damaged: rank1.safetensors checksum mismatch; using step-00000002"),
            std::string::npos)
      << err;
  EXPECT_EQ(test::metric_curve(scratch_ / "ck-metrics.jsonl"), reference());
}

TEST_F(DamagedCheckpoint, TruncatedWeightsFallBackToThePrevious) {
  interrupted_run();
  const auto size = std::filesystem::file_size(step(3) / "model.safetensors");
  std::filesystem::resize_file(step(3) / "model.safetensors", size / 2);
  const std::string err = resume();
  EXPECT_NE(err.find("checkpoint step-00000003 is damaged: model.safetensors is " + std::to_string(size / 2) +
                     " bytes, the manifest says " + std::to_string(size) + "; using step-00000002"),
            std::string::npos)
      << err;
  EXPECT_EQ(test::metric_curve(scratch_ / "ck-metrics.jsonl"), reference());
}

TEST_F(DamagedCheckpoint, MissingManifestFallsBackToThePrevious) {
  interrupted_run();
  std::filesystem::remove(step(3) / "manifest.json");
  const std::string err = resume();
  EXPECT_NE(err.find("checkpoint step-00000003 is damaged: no manifest.json; using step-00000002"), std::string::npos)
      << err;
  EXPECT_EQ(test::metric_curve(scratch_ / "ck-metrics.jsonl"), reference());
}

TEST_F(DamagedCheckpoint, EveryCheckpointDamagedIsAnErrorNotAFreshStart) {
  interrupted_run();
  for (int s = 1; s <= 3; ++s) std::filesystem::remove(step(s) / "trainer.json");
  const std::string err = resume(1);
  EXPECT_NE(err.find("no whole checkpoint to resume from"), std::string::npos) << err;
  EXPECT_NE(err.find("step-00000001: trainer.json is missing"), std::string::npos) << err;
}

TEST_F(DamagedCheckpoint, LoadingOrConsolidatingADamagedCheckpointIsRefused) {
  interrupted_run();
  std::filesystem::resize_file(step(3) / "rank0.safetensors", 10);
  std::string err;
  EXPECT_EQ(run_tandem({"checkpoint", "consolidate", step(3).string(), (scratch_ / "out.safetensors").string()},
                       scratch_ / "consolidate", &err),
            2);
  EXPECT_NE(err.find("checkpoint " + step(3).string() + " is damaged: rank0.safetensors is 10 bytes"),
            std::string::npos)
      << err;
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "out.safetensors"));
  // Engine::load, through a teacher named by its checkpoint directory.
  scratch_.write("distill.json", test::distill_run(2, "student"));
  std::filesystem::rename(step(3), scratch_ / "teacher");
  // (the tiny model's checkpoint is not the teacher's shape, but the damage is found before any tensor)
  EXPECT_NE(run_tandem({"distill", (scratch_ / "distill.json").string(), "-q"}, scratch_ / "distill", &err), 0);
  EXPECT_NE(err.find("is damaged: rank0.safetensors is 10 bytes"), std::string::npos) << err;
}

TEST_F(DamagedCheckpoint, KeepCheckpointsBoundsHowManyStay) {
  const auto file = scratch_.write("keep.json", test::train_run(4, "kept"));  // default: 2
  ASSERT_EQ(run_tandem({"train", file.string(), "-q"}, scratch_ / "keep"), 0);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(scratch_ / "kept")) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  // .lock: the run's lock on the directory (tandem/train: one run a directory), left naming its last owner.
  EXPECT_EQ(names, (std::vector<std::string>{".lock", "latest", "step-00000003", "step-00000004"}));
}

}  // namespace
}  // namespace tandem
