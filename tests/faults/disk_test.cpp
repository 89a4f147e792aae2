// Unwritable and full checkpoint directories. The CLI: a checkpoint_dir under a regular file
// (ENOTDIR, which root cannot override as it can permissions) and a full disk (RLIMIT_FSIZE in the
// child with SIGXFSZ ignored, so writes fail with EFBIG as on a full file system) are an error naming
// the path and the OS's reason, exit code 3; no partial directory is left; the previous checkpoint
// stays whole and the run resumes from it to the uninterrupted run's metrics. The library: an
// Engine::save that fails leaves the engine as it was; saving it elsewhere gives exactly what an
// undisturbed twin engine saves, and both train on identically.
#include <gtest/gtest.h>

#include "../engine/engine_support.hpp"
#include "fault_support.hpp"
#include "tandem/checkpoint_manifest.hpp"

namespace tandem {
namespace {

bool any_partial(const std::filesystem::path& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().find(".partial-") != std::string::npos) return true;
  return false;
}

// Runs `fn` with writes limited to `bytes` per file (EFBIG beyond, SIGXFSZ ignored); restores both.
template <class Fn>
void with_file_size_limit(rlim_t bytes, Fn fn) {
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  auto* old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit limited = old;
  limited.rlim_cur = bytes;
  ::setrlimit(RLIMIT_FSIZE, &limited);
  try {
    fn();
  } catch (...) {
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, old_handler);
    throw;
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);
}

TEST(Disk, ACheckpointDirUnderARegularFileIsAClearError) {
  test::Scratch scratch("enotdir");
  scratch.write("blocker", "a file, not a directory\n");
  std::string text = test::train_run(3, "blocker/ck");
  text.replace(text.find("blocker/ck-metrics.jsonl"), 24, "m.jsonl");
  const auto run = scratch.write("run.json", text);
  std::string err;
  EXPECT_EQ(test::run_tandem({"train", run.string(), "-q"}, scratch / "run", &err), 3);
  // Found before the first step, not at the first checkpoint.
  EXPECT_NE(err.find("cannot use checkpoint_dir " + (scratch / "blocker/ck").string() + ": "), std::string::npos)
      << err;
  EXPECT_NE(err.find("Not a directory"), std::string::npos) << err;
  EXPECT_EQ(err.find("step 1"), std::string::npos) << err;
  EXPECT_EQ(test::read_text(scratch / "blocker"), "a file, not a directory\n");
}

TEST(Disk, AFullDiskStopsTheRunKeepsThePreviousCheckpointAndTheRunResumes) {
  test::Scratch scratch("full");
  const auto ref = scratch.write("ref.json", test::train_run(5, "ref"));
  ASSERT_EQ(test::run_tandem({"train", ref.string(), "-q"}, scratch / "ref"), 0);
  const auto run = scratch.write("run.json", test::train_run(5, "ck", 1, R"(, "keep_checkpoints": 5)"));
  ASSERT_EQ(test::run_tandem({"train", run.string(), "-q", "--stop-after", "3"}, scratch / "first"), 0);
  const std::string step3_manifest = test::read_text(scratch / "ck/step-00000003/manifest.json");

  // 60 kB a file: the metrics and model.safetensors (32 kB) fit, a rank's shard (92 kB) does not.
  ASSERT_GT(std::filesystem::file_size(scratch / "ck/step-00000003/rank0.safetensors"), 60000u);
  ASSERT_LT(std::filesystem::file_size(scratch / "ck/step-00000003/model.safetensors"), 60000u);
  std::string err;
  EXPECT_EQ(test::run_tandem({"train", run.string(), "-q", "--resume"}, scratch / "full", &err,
                             [] {
                               ::signal(SIGXFSZ, SIG_IGN);
                               rlimit limit{60000, RLIM_INFINITY};
                               ::getrlimit(RLIMIT_FSIZE, &limit);
                               limit.rlim_cur = 60000;
                               ::setrlimit(RLIMIT_FSIZE, &limit);
                             }),
            3);
  EXPECT_NE(err.find("cannot write checkpoint " + (scratch / "ck/step-00000004").string() + ": "), std::string::npos)
      << err;
  EXPECT_NE(err.find("File too large"), std::string::npos) << err;
  EXPECT_FALSE(any_partial(scratch / "ck"));
  EXPECT_FALSE(std::filesystem::exists(scratch / "ck/step-00000004"));
  EXPECT_EQ(test::read_text(scratch / "ck/latest"), "step-00000003\n");
  EXPECT_EQ(find_checkpoint_damage(scratch / "ck/step-00000003"), std::nullopt);
  EXPECT_EQ(test::read_text(scratch / "ck/step-00000003/manifest.json"), step3_manifest);

  // Room again: the run resumes from step 3 and ends as if nothing had happened.
  ASSERT_EQ(test::run_tandem({"train", run.string(), "-q", "--resume"}, scratch / "again", &err), 0) << err;
  // (--stop-after 3 measured a validation loss at step 3, which the uninterrupted run does not)
  EXPECT_EQ(test::metric_curve(scratch / "ck-metrics.jsonl", false),
            test::metric_curve(scratch / "ref-metrics.jsonl", false));
}

TEST(Disk, AFailedSaveLeavesTheEngineIntactAndItSavesElsewhereAsAnUndisturbedOne) {
  const std::filesystem::path dir = test::temp_dir("faults-engine-save");
  auto train_steps = [](Engine& e, uint64_t first, uint64_t count) {
    for (uint64_t s = first; s < first + count; ++s) {
      const std::vector<TokenBatch> batches{test::random_batch(2, 8, 32, s), test::random_batch(2, 8, 32, s + 100)};
      e.forward(batches, true);
      e.backward(LossSpec{&batches});
      e.step();
    }
  };
  Prepared disturbed = test::prepare_tiny(test::tiny_config(0, 1, 1.0), 2, 2);
  train_steps(*disturbed.engine(), 0, 2);
  std::filesystem::create_directories(dir / "full");
  EXPECT_ANY_THROW(with_file_size_limit(4096, [&] { disturbed.engine()->save(dir / "full"); }));
  EXPECT_FALSE(std::filesystem::exists(dir / "full/engine.json"));
  EXPECT_FALSE(std::filesystem::exists(dir / "full/model.safetensors"));
  std::filesystem::create_directories(dir / "elsewhere");
  disturbed.engine()->save(dir / "elsewhere");

  Prepared twin = test::prepare_tiny(test::tiny_config(0, 1, 1.0), 2, 2);
  train_steps(*twin.engine(), 0, 2);
  std::filesystem::create_directories(dir / "twin");
  twin.engine()->save(dir / "twin");
  for (const char* file : {"model.safetensors", "rank0.safetensors", "rank1.safetensors", "engine.json", "manifest.json"})
    EXPECT_EQ(test::read_text(dir / "elsewhere" / file), test::read_text(dir / "twin" / file)) << file;
  EXPECT_EQ(find_checkpoint_damage(dir / "elsewhere"), std::nullopt);

  // And the engines go on identically.
  const std::vector<TokenBatch> batches{test::random_batch(2, 8, 32, 50), test::random_batch(2, 8, 32, 150)};
  disturbed.engine()->forward(batches, true);
  twin.engine()->forward(batches, true);
  disturbed.engine()->backward(LossSpec{&batches});
  twin.engine()->backward(LossSpec{&batches});
  EXPECT_EQ(disturbed.engine()->step().loss, twin.engine()->step().loss);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tandem
