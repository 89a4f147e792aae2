// SIGINT, SIGTERM, SIGHUP and SIGPIPE: the first finishes the current step, writes a checkpoint and
// exits with 128 + signo and a message saying where the checkpoint is; resuming from it then gives
// the uninterrupted run's metrics bit for bit. A second signal exits at once, writing nothing, even
// while the run is blocked (on a stderr nobody reads). A closed stdout pipe ends the run as SIGPIPE
// does. Also for a multi-model run (every model's checkpoint, of one step).
#include <fcntl.h>

#include <gtest/gtest.h>

#include "fault_support.hpp"
#include "tandem/checkpoint_manifest.hpp"

namespace tandem {
namespace {

using Clock = std::chrono::steady_clock;

// Waits (up to 20 s) until `ready` holds or the child ended.
bool wait_for(test::Child& child, const std::function<bool()>& ready) {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!child.done() && Clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return false;
}

size_t lines(const std::filesystem::path& file) {
  const std::string text = test::read_text(file);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The step a "interrupted by SIG... at step N;" message names.
int64_t interrupted_step(const std::string& err) {
  const size_t at = err.find(" at step ");
  return at == std::string::npos ? -1 : std::stoll(err.substr(at + 9));
}

TEST(Signals, SigtermWritesACheckpointAndTheResumedRunEqualsTheUninterruptedOne) {
  test::Scratch scratch("sigterm");
  // Checkpoints only at the end (interval 0): the one found after the signal is the signal's.
  const auto ref = scratch.write("ref.json", test::train_run(60, "ref", 0));
  ASSERT_EQ(test::run_tandem({"train", ref.string(), "-q"}, scratch / "ref"), 0);
  const auto run = scratch.write("run.json", test::train_run(60, "ck", 0));
  test::Child child({"train", run.string(), "-q"}, scratch / "run");
  ASSERT_TRUE(wait_for(child, [&] { return lines(scratch / "ck-metrics.jsonl") >= 5; })) << child.err();
  ::kill(child.pid(), SIGTERM);
  const int status = child.wait();
  const std::string err = child.err();
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << err;
  EXPECT_NE(err.find("SIGTERM received: finishing the current step and writing a checkpoint"), std::string::npos)
      << err;
  const int64_t step = interrupted_step(err);
  ASSERT_GE(step, 5) << err;
  ASSERT_LT(step, 60) << err;
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  EXPECT_NE(err.find("interrupted by SIGTERM at step " + std::to_string(step) + "; newest checkpoint " +
                     (scratch / "ck" / name).string() + "; resume with --resume"),
            std::string::npos)
      << err;
  EXPECT_EQ(find_checkpoint_damage(scratch / "ck" / name), std::nullopt);

  std::string resumed_err;
  ASSERT_EQ(test::run_tandem({"train", run.string(), "-q", "--resume"}, scratch / "resume", &resumed_err), 0)
      << resumed_err;
  EXPECT_EQ(test::metric_curve(scratch / "ck-metrics.jsonl"), test::metric_curve(scratch / "ref-metrics.jsonl"));
}

TEST(Signals, ASecondSigintExitsAtOnceWithoutACheckpoint) {
  test::Scratch scratch("sigint");
  // A wider model, so that a step takes a while: the second signal comes in the middle of it.
  std::string text = test::train_run(400, "ck", 0);
  const std::string tiny = test::kTinyModel;
  text.replace(text.find(tiny), tiny.size(),
               R"({"type": "gpt", "params": {"n_layer": 4, "n_head": 4, "n_embd": 256, "vocab_size": 256, "block_size": 16}})");
  const auto run = scratch.write("run.json", text);
  test::Child child({"train", run.string(), "-q"}, scratch / "run");
  ASSERT_TRUE(wait_for(child, [&] { return lines(scratch / "ck-metrics.jsonl") >= 1; })) << child.err();
  ::kill(child.pid(), SIGINT);
  ASSERT_TRUE(wait_for(child, [&] { return child.err().find("SIGINT received") != std::string::npos; }))
      << child.err();
  ::kill(child.pid(), SIGINT);
  const int status = child.wait();
  const std::string err = child.err();
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT) << err;
  EXPECT_NE(err.find("second SIGINT: exiting now without a checkpoint"), std::string::npos) << err;
  EXPECT_EQ(err.find("interrupted by"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(scratch / "ck/latest"));
}

TEST(Signals, AMultiModelRunWritesEveryModelsCheckpointOfOneStep) {
  test::Scratch scratch("sigterm-models");
  const auto run = scratch.write("run.json", std::string(R"({"models": {"a": {"model": )") + test::kTinyModel +
                                                 R"(, "deepspeed": )" + test::kTrainedConfig +
                                                 R"(}, "b": {"model": )" + test::kTinyModel + R"(, "deepspeed": )" +
                                                 test::kTrainedConfig + R"(, "seed": 9}}, )" + test::kLoopKeys +
                                                 R"(, "steps": 400, "checkpoint_dir": "ck", "metrics": "m.jsonl"})");
  test::Child child({"train", run.string(), "-q"}, scratch / "run");
  ASSERT_TRUE(wait_for(child, [&] { return lines(scratch / "m.jsonl") >= 6; })) << child.err();
  ::kill(child.pid(), SIGTERM);
  const int status = child.wait();
  const std::string err = child.err();
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << err;
  const int64_t step = interrupted_step(err);
  ASSERT_GE(step, 3) << err;
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  for (const char* model : {"a", "b"}) {
    EXPECT_EQ(find_checkpoint_damage(scratch / "ck" / model / name), std::nullopt) << model;
    EXPECT_EQ(test::read_text(scratch / "ck" / model / "latest"), std::string(name) + "\n") << model;
  }
}

// The step's checkpoint that a "interrupted by <name> at step N; newest checkpoint ..." message names.
std::filesystem::path named_checkpoint(const test::Scratch& scratch, const std::string& dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  return scratch / dir / name;
}

TEST(Signals, SighupAndSigpipeFinishTheStepAndWriteACheckpointAsSigtermDoes) {
  for (const auto& [signo, name] : {std::pair{SIGHUP, "SIGHUP"}, std::pair{SIGPIPE, "SIGPIPE"}}) {
    test::Scratch scratch(std::string("signal-") + name);
    const auto run = scratch.write("run.json", test::train_run(400, "ck", 0));
    test::Child child({"train", run.string(), "-q"}, scratch / "run");
    ASSERT_TRUE(wait_for(child, [&] { return lines(scratch / "ck-metrics.jsonl") >= 3; })) << child.err();
    ::kill(child.pid(), signo);
    const int status = child.wait();
    const std::string err = child.err();
    ASSERT_TRUE(WIFEXITED(status)) << name << " ended it by the signal: " << err;
    EXPECT_EQ(WEXITSTATUS(status), 128 + signo) << err;
    EXPECT_NE(err.find(std::string(name) + " received: finishing the current step and writing a checkpoint"),
              std::string::npos)
        << err;
    const int64_t step = interrupted_step(err);
    ASSERT_GE(step, 3) << err;
    ASSERT_LT(step, 400) << err;
    const auto checkpoint = named_checkpoint(scratch, "ck", step);
    EXPECT_NE(err.find("interrupted by " + std::string(name) + " at step " + std::to_string(step) +
                       "; newest checkpoint " + checkpoint.string() + "; resume with --resume"),
              std::string::npos)
        << err;
    EXPECT_EQ(find_checkpoint_damage(checkpoint), std::nullopt) << name;
  }
}

TEST(Signals, AClosedStdoutPipeEndsTheRunAsSigpipeDoes) {
  // `tandem train run.json | head -1` once head has gone: stdout a pipe with no reader.
  test::Scratch scratch("closed-stdout");
  const auto run = scratch.write("run.json", test::train_run(400, "ck", 0));
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  test::Child child({"train", run.string(), "-q"}, scratch / "run", [&] {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
  });
  ::close(pipe_fds[1]);
  ASSERT_TRUE(wait_for(child, [&] { return lines(scratch / "ck-metrics.jsonl") >= 3; })) << child.err();
  ::close(pipe_fds[0]);  // the reader goes
  const int status = child.wait();
  const std::string err = child.err();
  ASSERT_TRUE(WIFEXITED(status)) << "ended by signal " << WTERMSIG(status) << ": " << err;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGPIPE) << err;
  EXPECT_NE(err.find("SIGPIPE: the reader of stdout has gone: finishing the current step and writing a checkpoint"),
            std::string::npos)
      << err;
  const int64_t step = interrupted_step(err);
  ASSERT_GE(step, 3) << err;
  ASSERT_LT(step, 400) << err;
  EXPECT_EQ(find_checkpoint_damage(named_checkpoint(scratch, "ck", step)), std::nullopt);
  EXPECT_EQ(lines(scratch / "ck-metrics.jsonl"), static_cast<size_t>(step)) << "every step up to the checkpoint";
}

TEST(Signals, ASecondSignalEndsTheRunAtOnceWhileItIsBlockedOnAStderrNobodyReads) {
  // stderr a pipe that is full and never read (a stalled consumer): after the first SIGTERM the run
  // writes its checkpoint and then blocks in the write of its "interrupted by" line. The second
  // signal must still end it at once; the watcher must not be blocked writing its own message.
  test::Scratch scratch("blocked-stderr");
  const auto run = scratch.write("run.json", test::train_run(400, "ck", 0));
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  ::fcntl(pipe_fds[1], F_SETPIPE_SZ, 4096);
  ::fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK);
  const std::string filler(512, 'x');
  while (::write(pipe_fds[1], filler.data(), filler.size()) > 0) {
  }
  ::fcntl(pipe_fds[1], F_SETFL, 0);  // the child's writes block, as on any full pipe
  test::Child child({"train", run.string(), "-q"}, scratch / "run", [&] {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
  });
  ::close(pipe_fds[1]);
  ASSERT_TRUE(wait_for(child, [&] { return lines(scratch / "ck-metrics.jsonl") >= 2; }));
  ::kill(child.pid(), SIGTERM);
  ASSERT_TRUE(wait_for(child, [&] { return std::filesystem::exists(scratch / "ck/latest"); }))
      << "the first signal's checkpoint";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the run is now blocked on stderr
  EXPECT_FALSE(child.done()) << "the run should be blocked writing to the full stderr";
  ::kill(child.pid(), SIGTERM);
  const auto t0 = Clock::now();
  wait_for(child, [] { return false; });  // up to 20 s
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const bool ended = child.done();
  if (!ended) {
    ::kill(child.pid(), SIGKILL);
    child.wait();
  }
  ::close(pipe_fds[0]);
  ASSERT_TRUE(ended) << "still running 20 s after the second SIGTERM";
  EXPECT_LT(seconds, 5.0);
  const int status = child.status();
  ASSERT_TRUE(WIFEXITED(status)) << "ended by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);
}

}  // namespace
}  // namespace tandem
