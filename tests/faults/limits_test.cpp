// Limits a run is held to before it builds or reads anything (the real `tandem` binary): a model or
// batch that cannot fit in memory is refused with both sizes (estimate/run_memory.hpp) instead of an
// OOM kill or a std::bad_alloc; a FIFO or a device named as a run file, config, data or metrics is
// refused at once instead of being waited on or read forever (io/regular_file.hpp); a config or run
// file over 64 MiB is refused with its size before it is read. Every child runs under a deadline, so
// that a regression shows as a failure, not a hung suite.
#include <sys/resource.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>

#include "fault_support.hpp"

namespace tandem {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kStillRunning = -1000;

// `tandem <args>` given at most `seconds`: its exit code (-signal if a signal ended it), or
// kStillRunning when it had not ended by then (it is killed).
int run_bounded(const std::vector<std::string>& args, const std::filesystem::path& log_stem, std::string* err,
                const std::function<void()>& before_exec = {}, int seconds = 60) {
  test::Child child(args, log_stem, before_exec);
  const auto deadline = Clock::now() + std::chrono::seconds(seconds);
  while (!child.done() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (!child.done()) {
    ::kill(child.pid(), SIGKILL);
    child.wait();
    if (err != nullptr) *err = child.err();
    return kStillRunning;
  }
  if (err != nullptr) *err = child.err();
  const int status = child.status();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// The child's address space capped (ulimit -v): what it can map does not depend on the machine.
std::function<void()> address_space_limit(rlim_t bytes) {
  return [bytes] {
    const rlimit limit{bytes, bytes};
    ::setrlimit(RLIMIT_AS, &limit);
  };
}

std::string replaced(std::string text, const std::string& what, const std::string& with) {
  const size_t at = text.find(what);
  if (at != std::string::npos) text.replace(at, what.size(), with);
  return text;
}

std::string with_model(const std::string& run, const std::string& params) {
  return replaced(run, test::kTinyModel, R"({"type": "gpt", "params": )" + params + "}");
}

class Limits : public ::testing::Test {
 protected:
  test::Scratch scratch_{"limits"};
};

TEST_F(Limits, AModelFarTooBigIsRefusedWithBothSizesBeforeAnythingIsBuilt) {
  // 3.3e12 parameters: 96 TiB of model states on two thread-ranks. The address space is capped too,
  // so that a run that tried would fail an allocation rather than test the machine's memory.
  const auto run = scratch_.write(
      "run.json", with_model(test::train_run(2, "ck"),
                             R"({"n_layer": 64, "n_head": 64, "n_embd": 65536, "vocab_size": 256, "block_size": 16})"));
  std::string err;
  const auto t0 = Clock::now();
  EXPECT_EQ(run_bounded({"train", run.string(), "-q"}, scratch_ / "big", &err, address_space_limit(rlim_t{8} << 30)),
            2)
      << err;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 20.0);
  EXPECT_NE(err.find(run.string() + ": the run cannot fit in memory: it needs at least "), std::string::npos) << err;
  EXPECT_NE(err.find("model: 3.3e+12 parameters, model states 96.0 TiB"), std::string::npos) << err;
  EXPECT_NE(err.find("ZeRO-0, fp32, 2 ranks; activations for 2 rows x 16 tokens a rank"), std::string::npos) << err;
  EXPECT_NE(err.find(" is available ("), std::string::npos) << err;
  EXPECT_NE(err.find("lower micro_batch or seq_len"), std::string::npos) << err;
  EXPECT_NE(err.find("--skip-memory-check"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "ck")) << "refused before the run's outputs were made";
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "ck-metrics.jsonl"));
}

TEST_F(Limits, AModelOverTheAddressSpaceLimitIsRefusedNamingTheLimit) {
  // 101M parameters: 1.5 GiB of fp32 params, grads and Adam moments a rank, 3 GiB for two ranks;
  // the machine has the memory, `ulimit -v 2 GiB` does not.
  const auto run = scratch_.write(
      "run.json", with_model(test::train_run(2, "ck"),
                             R"({"n_layer": 8, "n_head": 8, "n_embd": 1024, "vocab_size": 256, "block_size": 16})"));
  std::string err;
  EXPECT_EQ(run_bounded({"train", run.string(), "-q"}, scratch_ / "as", &err, address_space_limit(rlim_t{2} << 30)), 2)
      << err;
  EXPECT_NE(err.find("the run cannot fit in memory: it needs at least 3.0 GiB"), std::string::npos) << err;
  EXPECT_NE(err.find("is available (RLIMIT_AS (ulimit -v) 2.0 GiB less the "), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "ck"));

  // Told to try anyway, the build runs out of address space: a clear end with exit 1, not
  // std::terminate (SIGABRT) or a bare "std::bad_alloc".
  EXPECT_EQ(run_bounded({"train", run.string(), "-q", "--skip-memory-check"}, scratch_ / "skip", &err,
                        address_space_limit(rlim_t{2} << 30)),
            1)
      << err;
  EXPECT_NE(err.find("tandem train: out of memory: an allocation failed (std::bad_alloc)"), std::string::npos) << err;
  EXPECT_NE(err.find("ulimit -v"), std::string::npos) << err;
}

TEST_F(Limits, AFifoOrADeviceAsRunFileConfigDataOrMetricsIsRefusedAtOnce) {
  const auto fifo = scratch_ / "a.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  const std::string run = test::train_run(2, "ck");
  struct Case {
    std::string what;
    std::vector<std::string> args;  // empty: `train` on `text`
    std::string text;
    std::string expected;
  };
  const std::string inline_config = test::kTrainedConfig;
  const std::vector<Case> cases = {
      {"the run file", {"train", fifo.string(), "-q"}, "", fifo.string() + ": is a FIFO, not a regular file"},
      {"the config", {}, replaced(run, inline_config, "\"a.fifo\""), fifo.string() + ": is a FIFO, not a regular file"},
      {"the config (config check)", {"config", "check", fifo.string()}, "", fifo.string() + ": is a FIFO"},
      {"/dev/null as the config", {}, replaced(run, inline_config, "\"/dev/null\""),
       "/dev/null: is a character device, not a regular file"},
      {"the data", {}, replaced(run, "corpus.txt", "a.fifo"), fifo.string() + ": is a FIFO, not a regular file"},
      {"/dev/zero as the data", {}, replaced(run, "corpus.txt", "/dev/zero"),
       "/dev/zero: is a character device, not a regular file"},
      {"the metrics", {}, replaced(run, "ck-metrics.jsonl", "a.fifo"), "metrics " + fifo.string() + " is a FIFO"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    if (args.empty()) args = {"train", scratch_.write("case.json", c.text).string(), "-q"};
    std::string err;
    EXPECT_EQ(run_bounded(args, scratch_ / "case", &err, {}, 30), 2) << c.what << ": " << err;
    EXPECT_NE(err.find(c.expected), std::string::npos) << c.what << ": " << err;
  }
  EXPECT_TRUE(std::filesystem::is_fifo(fifo));
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "ck" / "latest"));
}

TEST_F(Limits, AConfigOrRunFileOverSixtyFourMiBIsRefusedWithItsSizeBeforeItIsRead) {
  // Sparse files: the size is what stat says, no disk is used. A terabyte one shows that nothing is
  // read (reading it would take hours, and the address space cap ends a reader that tries).
  const auto big = scratch_ / "big.json";
  std::ofstream(big).close();
  std::filesystem::resize_file(big, (uint64_t{64} << 20) + (uint64_t{1} << 20));
  const auto huge = scratch_ / "huge.json";
  std::ofstream(huge).close();
  std::filesystem::resize_file(huge, uint64_t{1} << 40);
  const std::string limit = "over the 64.0 MiB that a JSON file (config, run file) may be; nothing was read";
  const std::string run = replaced(test::train_run(2, "ck"), test::kTrainedConfig, "\"big.json\"");
  std::string err;
  EXPECT_EQ(run_bounded({"train", scratch_.write("run.json", run).string(), "-q"}, scratch_ / "cfg", &err), 2) << err;
  EXPECT_NE(err.find(big.string() + ": is 65.0 MiB (68157440 bytes), " + limit), std::string::npos) << err;
  for (const auto& [args, expected] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"train", big.string(), "-q"}, big.string() + ": is 65.0 MiB (68157440 bytes), " + limit},
           {{"train", huge.string(), "-q"}, huge.string() + ": is 1.0 TiB (1099511627776 bytes), " + limit},
           {{"config", "check", huge.string()}, huge.string() + ": is 1.0 TiB"}}) {
    EXPECT_EQ(run_bounded(args, scratch_ / "file", &err, address_space_limit(rlim_t{4} << 30), 30), 2) << err;
    EXPECT_NE(err.find(expected), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace tandem
