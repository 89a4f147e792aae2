// `tandem train RUN --resume PATH` (issue 21): a named checkpoint, of this run or another, under
// another ZeRO stage and world size; read and never changed. Each bad PATH is refused by name, exit 2,
// with nothing loaded or written.
#include <gtest/gtest.h>

#include <cmath>

#include "fault_support.hpp"
#include "tandem/checkpoint_manifest.hpp"

namespace tandem {
namespace {

using test::run_tandem;

// The tiny run at another topology: ZeRO-`stage`, `ranks` thread-ranks of `micro` rows each.
std::string run_at(int steps, const std::string& ckpt, int stage, int ranks, int micro) {
  std::string text = test::train_run(steps, ckpt);
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
  };
  replace(R"("stage": 0)", R"("stage": )" + std::to_string(stage));
  replace(R"("ranks": 2)", R"("ranks": )" + std::to_string(ranks));
  replace(R"("micro_batch": 2)", R"("micro_batch": )" + std::to_string(micro));
  return text;
}

// Every file of a directory tree with its size and checksum: to show that nothing in it changed.
std::string fingerprint(const std::filesystem::path& dir) {
  std::string out;
  std::vector<std::filesystem::path> dirs{dir};
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs)
    for (const CheckpointManifestEntry& f : describe_checkpoint_files(d).files)
      out += d.lexically_relative(dir).string() + "/" + f.name + " " + std::to_string(f.size) + " " +
             std::to_string(f.crc32c) + "\n";
  return out;
}

// The loss of a metric_curve row.
double loss_in(const std::string& row) { return std::stod(row.substr(row.find(" loss=") + 6)); }

class ResumePath : public ::testing::Test {
 protected:
  // Run A: ZeRO-0 on 2 ranks of 2 rows, stopped after step 2 of 4 (checkpoints step-1 and step-2).
  void run_a() {
    const auto file = scratch_.write("a.json", run_at(4, "a", 0, 2, 2));
    ASSERT_EQ(run_tandem({"train", file.string(), "-q", "--stop-after", "2"}, scratch_ / "a"), 0);
  }
  std::filesystem::path a_step(int s) const { return scratch_ / ("a/step-0000000" + std::to_string(s)); }

  test::Scratch scratch_{"resume-path"};
};

TEST_F(ResumePath, ANamedCheckpointOfAnotherRunResumesUnderAnotherStageAndWorldAndStaysUntouched) {
  run_a();
  const std::string before = fingerprint(scratch_ / "a");
  // Run B: ZeRO-3 on 4 ranks of 1 row (the same 4 rows a step), from A's step 2; PATH before RUN.
  const auto b = scratch_.write("b.json", run_at(4, "b", 3, 4, 1));
  std::string err;
  ASSERT_EQ(run_tandem({"train", "--resume", a_step(2).string(), b.string()}, scratch_ / "b", &err), 0) << err;
  EXPECT_NE(err.find("resumed from " + a_step(2).string() + " at step 2"), std::string::npos) << err;
  EXPECT_NE(err.find("continues at world_size 4 x micro_batch 1 from the first window the saved run had not used"),
            std::string::npos)
      << err;
  EXPECT_EQ(fingerprint(scratch_ / "a"), before) << "the named checkpoint's run was changed";
  EXPECT_TRUE(std::filesystem::exists(scratch_ / "b/step-00000004"));
  const std::vector<std::string> curve = test::metric_curve(scratch_ / "b-metrics.jsonl");
  ASSERT_EQ(curve.size(), 2u) << "B's metrics hold its own steps 3 and 4";
  EXPECT_EQ(curve[0].rfind("step=3 ", 0), 0u) << curve[0];

  // The same state and the same rows: step 3 at B is A's step 3 up to the order of the sums (4 ranks
  // of 1 row instead of 2 of 2), where a lost moment or a restarted data stream would be far off.
  const auto whole = scratch_.write("whole.json", run_at(4, "whole", 0, 2, 2));
  ASSERT_EQ(run_tandem({"train", whole.string(), "-q"}, scratch_ / "whole"), 0);
  const std::vector<std::string> uninterrupted = test::metric_curve(scratch_ / "whole-metrics.jsonl");
  EXPECT_NEAR(loss_in(curve[0]), loss_in(uninterrupted.at(2)), 1e-5 * loss_in(uninterrupted.at(2)));

  // B resumed again from PATH and stopped, then resumed from its own newest: the same curve, bit for bit.
  const auto c = scratch_.write("c.json", run_at(4, "c", 3, 4, 1));
  ASSERT_EQ(run_tandem({"train", c.string(), "-q", "--resume", a_step(2).string(), "--stop-after", "3"}, scratch_ / "c1"),
            0);
  ASSERT_EQ(run_tandem({"train", c.string(), "-q", "--resume"}, scratch_ / "c2"), 0);
  // (without val_loss: a run stopped at step 3 evaluates there, as its last step)
  EXPECT_EQ(test::metric_curve(scratch_ / "c-metrics.jsonl", false), test::metric_curve(scratch_ / "b-metrics.jsonl", false));
  EXPECT_EQ(fingerprint(scratch_ / "a"), before);
}

TEST_F(ResumePath, BadPathsAreRefusedByNameWithNothingLoadedOrWritten) {
  run_a();
  const auto b = scratch_.write("b.json", run_at(4, "b", 2, 2, 2));
  auto refused = [&](const std::filesystem::path& path, const std::string& expected) {
    std::string err;
    EXPECT_EQ(run_tandem({"train", b.string(), "-q", "--resume", path.string()}, scratch_ / "refused", &err), 2)
        << err;
    EXPECT_NE(err.find(expected), std::string::npos) << err;
    // (The run's own checkpoint_dir is claimed, with its lock, before the checkpoint is read.)
    if (std::filesystem::exists(scratch_ / "b"))
      for (const auto& e : std::filesystem::directory_iterator(scratch_ / "b"))
        EXPECT_EQ(e.path().filename().string().rfind("step-", 0), std::string::npos) << "a refused run checkpointed";
    EXPECT_FALSE(std::filesystem::exists(scratch_ / "b-metrics.jsonl")) << "a refused run wrote metrics";
  };
  refused(scratch_ / "nowhere", "--resume " + (scratch_ / "nowhere").string() + ": no such file or directory");
  std::filesystem::create_directories(scratch_ / "empty");
  refused(scratch_ / "empty", "not a checkpoint (no engine.json) nor a checkpoint_dir (no latest)");

  // A damaged one: no older one is taken in its place.
  std::filesystem::copy(a_step(2), scratch_ / "damaged");
  {
    std::fstream f(scratch_ / "damaged/rank0.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-50, std::ios::end);
    const char ch = static_cast<char>(f.peek());
    f.put(static_cast<char>(ch ^ 0x01));
  }
  refused(scratch_ / "damaged", "is damaged: rank0.safetensors checksum mismatch; nothing was loaded");

  // Another model's: the tensor whose shape differs is named.
  const auto teacher = scratch_.write("teacher.json", test::teacher_run());
  ASSERT_EQ(run_tandem({"train", teacher.string(), "-q"}, scratch_ / "teacher"), 0);
  refused(scratch_ / "teacher/step-00000003", "wte.weight");

  // An older checkpoint of the run's own directory: resuming would replace the newer one there.
  std::string err;
  EXPECT_EQ(run_tandem({"train", (scratch_ / "a.json").string(), "-q", "--resume", a_step(1).string()},
                       scratch_ / "older", &err),
            2);
  EXPECT_NE(err.find("holds step-00000002, newer than step 1, which the resumed run would replace"),
            std::string::npos)
      << err;
  EXPECT_TRUE(std::filesystem::exists(a_step(2)));
  EXPECT_EQ(find_checkpoint_damage(a_step(2)), std::nullopt);
}

}  // namespace
}  // namespace tandem
