// What a run does to the paths it is given (train/run_outputs.hpp), with the real `tandem` binary: a
// fresh run over an earlier run, metrics pointed at a file tandem did not write or at something that is
// not a regular file, a directory another run holds, --stop-after outside the run, and metrics that
// cannot be written. Each refusal happens before the first step and leaves every file as it was.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>

#include "fault_support.hpp"

namespace tandem {
namespace {

using test::read_text;
using test::run_tandem;

class Outputs : public ::testing::Test {
 protected:
  test::Scratch scratch_{"outputs"};
};

TEST_F(Outputs, AFreshRunOverAFinishedOneIsRefusedAndLosesNothing) {
  const auto run = scratch_.write("run.json", test::train_run(3, "ck"));
  ASSERT_EQ(run_tandem({"train", run.string(), "-q"}, scratch_ / "first"), 0);
  const std::string metrics = read_text(scratch_ / "ck-metrics.jsonl");
  const std::vector<std::string> curve = test::metric_curve(scratch_ / "ck-metrics.jsonl");
  const std::string manifest = read_text(scratch_ / "ck/step-00000003/manifest.json");
  std::string err;
  EXPECT_EQ(run_tandem({"train", run.string(), "-q"}, scratch_ / "again", &err), 2);
  EXPECT_NE(err.find("metrics " + (scratch_ / "ck-metrics.jsonl").string() + " already exists: --resume"),
            std::string::npos)
      << err;
  std::filesystem::rename(scratch_ / "ck-metrics.jsonl", scratch_ / "kept-metrics.jsonl");  // the directory next
  EXPECT_EQ(run_tandem({"train", run.string(), "-q"}, scratch_ / "again", &err), 2);
  EXPECT_NE(err.find("checkpoint_dir " + (scratch_ / "ck").string() +
                     " already holds a run (its newest checkpoint is of step 3): --resume continues it, --overwrite"),
            std::string::npos)
      << err;
  EXPECT_EQ(read_text(scratch_ / "ck/step-00000003/manifest.json"), manifest);
  EXPECT_EQ(read_text(scratch_ / "ck/latest"), "step-00000003\n");
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "ck-metrics.jsonl"));
  EXPECT_EQ(read_text(scratch_ / "kept-metrics.jsonl"), metrics);
  // Asked for, it starts over.
  std::filesystem::rename(scratch_ / "kept-metrics.jsonl", scratch_ / "ck-metrics.jsonl");
  EXPECT_EQ(run_tandem({"train", run.string(), "-q", "--overwrite"}, scratch_ / "over", &err), 0) << err;
  EXPECT_EQ(test::metric_curve(scratch_ / "ck-metrics.jsonl"), curve) << "the same run again, from step 1";
  EXPECT_EQ(read_text(scratch_ / "ck/latest"), "step-00000003\n");
  EXPECT_EQ(run_tandem({"train", run.string(), "-q", "--overwrite", "--resume"}, scratch_ / "both", &err), 2);
  EXPECT_NE(err.find("--resume and --overwrite exclude each other"), std::string::npos) << err;
}

TEST_F(Outputs, MetricsOverAnUnrelatedFileOrAnythingButARegularFileAreRefused) {
  const std::string unrelated = "a user's notes, not tandem's\n";
  scratch_.write("ck-metrics.jsonl", unrelated);
  const auto run = scratch_.write("run.json", test::train_run(2, "ck"));
  std::string err;
  EXPECT_EQ(run_tandem({"train", run.string(), "-q"}, scratch_ / "unrelated", &err), 2);
  EXPECT_NE(err.find("already exists"), std::string::npos) << err;
  EXPECT_EQ(read_text(scratch_ / "ck-metrics.jsonl"), unrelated);
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "ck")) << "refused before anything was made";

  // A device, a directory, a symbolic link: refused even with --overwrite, and left as they are.
  std::filesystem::create_directory(scratch_ / "a-dir");
  std::filesystem::create_symlink(scratch_ / "ck-metrics.jsonl", scratch_ / "a-link");
  for (const auto& [target, kind] : std::vector<std::pair<std::string, std::string>>{
           {"/dev/null", "a character device"}, {(scratch_ / "a-dir").string(), "a directory"},
           {(scratch_ / "a-link").string(), "a symbolic link"}}) {
    std::string text = test::train_run(2, "ck2");
    text.replace(text.find("ck2-metrics.jsonl"), 17, target);
    const auto file = scratch_.write("device.json", text);
    EXPECT_EQ(run_tandem({"train", file.string(), "-q", "--overwrite"}, scratch_ / "device", &err), 2) << target;
    EXPECT_NE(err.find("metrics " + target + " is " + kind), std::string::npos) << err;
  }
  EXPECT_TRUE(std::filesystem::is_character_file("/dev/null"));
  EXPECT_TRUE(std::filesystem::is_symlink(scratch_ / "a-link"));
  EXPECT_EQ(read_text(scratch_ / "ck-metrics.jsonl"), unrelated);
}

TEST_F(Outputs, ADirectoryAnotherRunHoldsIsRefusedNamingItsPid) {
  std::filesystem::create_directories(scratch_ / "ck");
  const int fd = ::open((scratch_ / "ck/.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);  // as a running `tandem train` holds it
  ASSERT_EQ(::write(fd, "4242", 4), 4);
  const auto run = scratch_.write("run.json", test::train_run(2, "ck"));
  std::string err;
  EXPECT_EQ(run_tandem({"train", run.string(), "-q"}, scratch_ / "second", &err), 2);
  EXPECT_NE(err.find("checkpoint_dir " + (scratch_ / "ck").string() + " is in use by another run (pid 4242)"),
            std::string::npos)
      << err;
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "ck-metrics.jsonl"));
  ::close(fd);  // the first run ended: the directory is free again
  EXPECT_EQ(run_tandem({"train", run.string(), "-q"}, scratch_ / "after", &err), 0) << err;
  EXPECT_EQ(read_text(scratch_ / "ck/latest"), "step-00000002\n");
}

TEST_F(Outputs, StopAfterMustBeAStep) {
  const auto run = scratch_.write("run.json", test::train_run(2, "ck"));
  for (const char* bad : {"0", "-3"}) {
    std::string err;
    EXPECT_EQ(run_tandem({"train", run.string(), "-q", "--stop-after", bad}, scratch_ / "stop", &err), 2) << bad;
    EXPECT_NE(err.find("--stop-after must be an optimizer step, at least 1"), std::string::npos) << err;
  }
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "ck"));
}

TEST_F(Outputs, MetricsThatCannotBeWrittenEndTheRunAsADiskErrorDoes) {
  // The token cache first, unlimited; then every file limited to 600 bytes: the lock and the metrics'
  // first lines fit, a later line does not (checkpoints only at the end, interval 100).
  const auto warm = scratch_.write("warm.json", test::train_run(1, "warm"));
  ASSERT_EQ(run_tandem({"train", warm.string(), "-q"}, scratch_ / "warm"), 0);
  const auto run = scratch_.write("run.json", test::train_run(8, "ck", 100));
  std::string err;
  EXPECT_EQ(run_tandem({"train", run.string(), "-q"}, scratch_ / "full", &err,
                       [] {
                         ::signal(SIGXFSZ, SIG_IGN);
                         rlimit limit{};
                         ::getrlimit(RLIMIT_FSIZE, &limit);
                         limit.rlim_cur = 600;
                         ::setrlimit(RLIMIT_FSIZE, &limit);
                       }),
            3);
  EXPECT_NE(err.find("cannot write metrics to " + (scratch_ / "ck-metrics.jsonl").string() + ": File too large"),
            std::string::npos)
      << err;
}

TEST_F(Outputs, ACpuRunUnderALauncherIsRefusedBeforeItWritesAnything) {
  const auto run = scratch_.write("run.json", test::train_run(2, "ck"));
  std::string err;
  // tandem launch's two processes: each refuses (the launcher names the failed rank and ends the run).
  EXPECT_NE(run_tandem({"launch", "--nproc-per-node", "2", "--grace-seconds", "5", "--", TANDEM_CLI, "train",
                        run.string(), "-q"},
                       scratch_ / "launch", &err),
            0);
  EXPECT_NE(err.find("but this is a CPU run: its 2 ranks are threads of one process"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "ck"));
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "ck-metrics.jsonl"));
  // mpirun's variables, as one process would see them; distill too.
  const auto as_rank_1_of_3 = [] {
    ::setenv("OMPI_COMM_WORLD_RANK", "1", 1);
    ::setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
    ::setenv("MASTER_ADDR", "127.0.0.1", 1);
  };
  EXPECT_EQ(run_tandem({"train", run.string(), "-q"}, scratch_ / "mpi", &err, as_rank_1_of_3), 2);
  EXPECT_NE(err.find("started as rank 1 of 3 processes (OMPI_COMM_WORLD_RANK"), std::string::npos) << err;
  const auto distill = scratch_.write("distill.json", test::distill_run(2, "dk"));
  EXPECT_EQ(run_tandem({"distill", distill.string(), "-q"}, scratch_ / "mpi-distill", &err, as_rank_1_of_3), 2);
  EXPECT_NE(err.find("but this is a CPU run"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "ck"));
  // One process of one: runs.
  EXPECT_EQ(run_tandem({"train", run.string(), "-q"}, scratch_ / "alone", &err,
                       [] {
                         ::setenv("WORLD_SIZE", "1", 1);
                         ::setenv("RANK", "0", 1);
                       }),
            0)
      << err;
}

TEST_F(Outputs, ConsolidateWritesOnlyANewOrRegularFileItMayReplace) {
  const auto run = scratch_.write("run.json", test::train_run(2, "ck"));
  ASSERT_EQ(run_tandem({"train", run.string(), "-q"}, scratch_ / "train"), 0);
  const std::string ck = (scratch_ / "ck").string();
  const std::string unrelated = "a user's file, not tandem's\n";
  const auto out = scratch_.write("model.safetensors", unrelated);
  std::string err;
  EXPECT_EQ(run_tandem({"checkpoint", "consolidate", ck, out.string()}, scratch_ / "existing", &err), 2);
  EXPECT_NE(err.find("OUT " + out.string() + " already exists: --overwrite replaces it"), std::string::npos) << err;
  EXPECT_EQ(read_text(out), unrelated);

  // Not a regular file: refused even with --overwrite, and left as it is (a FIFO must not block us).
  std::filesystem::create_symlink(out, scratch_ / "a-link");
  ASSERT_EQ(::mkfifo((scratch_ / "a-fifo").c_str(), 0644), 0);
  std::filesystem::create_directory(scratch_ / "a-dir");
  for (const auto& [target, kind] : std::vector<std::pair<std::string, std::string>>{
           {(scratch_ / "a-link").string(), "a symbolic link"}, {(scratch_ / "a-fifo").string(), "a FIFO"},
           {(scratch_ / "a-dir").string(), "a directory"}}) {
    EXPECT_EQ(run_tandem({"checkpoint", "consolidate", ck, target, "--overwrite"}, scratch_ / "irregular", &err), 2);
    EXPECT_NE(err.find("OUT " + target + " is " + kind), std::string::npos) << err;
  }
  EXPECT_TRUE(std::filesystem::is_symlink(scratch_ / "a-link"));
  EXPECT_TRUE(std::filesystem::is_fifo(scratch_ / "a-fifo"));
  EXPECT_EQ(read_text(out), unrelated);

  // One of the checkpoint's own files: refused even with --overwrite.
  const std::string own = (scratch_ / "ck/step-00000002/model.safetensors").string();
  const std::string weights = read_text(own);
  EXPECT_EQ(run_tandem({"checkpoint", "consolidate", ck, own, "--overwrite"}, scratch_ / "inside", &err), 2);
  EXPECT_NE(err.find("is a file of the checkpoint"), std::string::npos) << err;
  EXPECT_EQ(read_text(own), weights);

  // Asked for, a regular file is replaced; a new path needs no flag.
  EXPECT_EQ(run_tandem({"checkpoint", "consolidate", ck, out.string(), "--overwrite"}, scratch_ / "over", &err), 0)
      << err;
  EXPECT_NE(read_text(out), unrelated);
  EXPECT_EQ(run_tandem({"checkpoint", "consolidate", ck, (scratch_ / "new.safetensors").string()},
                       scratch_ / "new", &err),
            0)
      << err;
  EXPECT_EQ(read_text(scratch_ / "new.safetensors"), read_text(out));
}

}  // namespace
}  // namespace tandem
