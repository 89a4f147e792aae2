// `tandem train`: a run file end to end on a small corpus, resume equal to the uninterrupted run, and
// the CLI's answers to bad input.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "engine_support.hpp"
#include "tandem/train.hpp"

namespace tandem {
namespace {

// A small text corpus: sentences in an order from a fixed generator.
std::filesystem::path write_corpus(const std::filesystem::path& dir) {
  const char* words[] = {"the", "lord", "said", "unto", "moses", "and", "all", "the", "people", "went", "out", "of",
                         "egypt", "into", "the", "land", "which", "he", "gave", "them"};
  std::mt19937 gen(3);
  std::ofstream out(dir / "corpus.txt");
  for (int i = 0; i < 6000; ++i) out << words[gen() % 20] << (i % 11 == 10 ? ".\n" : " ");
  return dir / "corpus.txt";
}

std::filesystem::path write_run(const std::filesystem::path& dir, const std::string& extra = "") {
  write_corpus(dir);
  std::ofstream(dir / "ds.json") << R"({"train_micro_batch_size_per_gpu": "auto", "gradient_clipping": 1.0,
    "optimizer": {"type": "AdamW", "params": {"lr": "auto", "weight_decay": "auto"}},
    "scheduler": {"type": "WarmupLR", "params": {"warmup_max_lr": "auto", "warmup_num_steps": "auto"}},
    "zero_optimization": {"stage": 0}})";
  std::ofstream(dir / "run.json") << R"({
    "model": {"type": "gpt", "params": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 256, "block_size": 16}},
    "data": {"path": "corpus.txt", "val_fraction": 0.1},
    "deepspeed": "ds.json", "ranks": 2, "steps": 8, "micro_batch": 2, "lr": 3e-3, "weight_decay": 0.01,
    "warmup_steps": 2, "seed": 5, "eval_interval": 4, "eval_batches": 2,
    "checkpoint_dir": "ckpt", "checkpoint_interval": 3, "metrics": "metrics.jsonl")" +
                                     extra + "}";
  return dir / "run.json";
}

// The metrics of a run without their timings (which differ between any two runs).
std::vector<std::string> numerics(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) {
    json::Document d = json::parse(l);
    d.root.erase("tokens_per_s");
    d.root.erase("time_s");
    d.root.erase("timestamp");
    out.push_back(json::to_string(d.root));
  }
  return out;
}

std::vector<std::string> lines(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TrainOptions quiet() {
  TrainOptions o;
  o.progress = false;
  return o;
}

TEST(Train, ARunFileTrainsAndWritesMetricsAndCheckpoints) {
  const auto dir = test::temp_dir("train");
  const TrainSummary s = train(load_run_file(write_run(dir)), quiet());
  EXPECT_EQ(s.steps, 8);
  EXPECT_GT(s.val_loss, 0);
  EXPECT_LT(s.val_loss, std::log(256.0));  // better than uniform after 8 steps
  EXPECT_EQ(lines(dir / "metrics.jsonl").size(), 8u);
  EXPECT_EQ(lines(dir / "ckpt" / "latest").at(0), "step-00000008");
  // keep_checkpoints (default 2): step 3's went once step 8's was complete.
  EXPECT_FALSE(std::filesystem::exists(dir / "ckpt" / "step-00000003"));
  EXPECT_TRUE(std::filesystem::exists(dir / "ckpt" / "step-00000006" / "rank1.safetensors"));
  std::filesystem::remove_all(dir);
}

TEST(Train, AResumedRunRepeatsTheUninterruptedOneBitForBit) {
  const auto whole = test::temp_dir("whole"), parts = test::temp_dir("parts");
  train(load_run_file(write_run(whole)), quiet());
  const RunFile run = load_run_file(write_run(parts));
  TrainOptions stop = quiet();
  stop.stop_after = 5;  // checkpoints at 3 and at the stop (5)
  train(run, stop);
  // A crash after step 5 but before 6 leaves metrics up to 5 and the checkpoint at 5; make the
  // resumed run start from step 3 instead, to also exercise metric truncation.
  std::ofstream(parts / "ckpt" / "latest") << "step-00000003\n";
  TrainOptions resume = quiet();
  resume.resume = true;
  train(run, resume);
  const std::vector<std::string> expected = numerics(whole / "metrics.jsonl");
  ASSERT_EQ(expected.size(), 8u);
  EXPECT_EQ(numerics(parts / "metrics.jsonl"), expected);
  std::filesystem::remove_all(whole);
  std::filesystem::remove_all(parts);
}

int tandem_cli(const std::string& args, std::string* err = nullptr) {
  // One file per test process: ctest runs the tests of this binary in parallel processes.
  const std::string log =
      (std::filesystem::temp_directory_path() / ("tandem-cli-err-" + std::to_string(::getpid()) + ".txt")).string();
  const int rc = std::system((std::string(TANDEM_TEST_BINARY_DIR) + "/bin/tandem " + args + " 2>" + log + " >/dev/null").c_str());
  if (err) {
    std::ifstream in(log);
    std::stringstream s;
    s << in.rdbuf();
    *err = s.str();
  }
  return WEXITSTATUS(rc);
}

TEST(Train, BadRunFilesExitWithTwoAndTheirLineAndColumn) {
  const auto dir = test::temp_dir("badrun");
  std::string err;
  EXPECT_EQ(tandem_cli("train " + write_run(dir, R"(, "stepz": 3)").string(), &err), 2);
  EXPECT_NE(err.find("run.json:6:"), std::string::npos) << err;
  EXPECT_NE(err.find("stepz"), std::string::npos) << err;

  std::ofstream(dir / "run2.json") << R"({"model": {"type": "gpt", "params": {"n_layer": 1, "n_embd": 8, "n_head": 1}}, "data": {"path": "missing.txt"}, "deepspeed": "ds.json", "steps": 1, "micro_batch": 1})";
  EXPECT_EQ(tandem_cli("train --quiet " + (dir / "run2.json").string(), &err), 2);
  EXPECT_NE(err.find("missing.txt"), std::string::npos) << err;

  EXPECT_EQ(tandem_cli("train " + (dir / "nothing.json").string(), &err), 2);
  EXPECT_NE(err.find("no such file"), std::string::npos) << err;
  std::filesystem::remove_all(dir);
}

TEST(Train, ARunPrintsItsConfigsWarningsSuchAsAFeatureTandemIgnores) {
  const auto dir = std::filesystem::temp_directory_path() / ("tandem-train-warn-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::filesystem::path run = write_run(dir);
  // The same config with a wandb block: DeepSpeed sends to Weights & Biases, tandem does not.
  std::ofstream(dir / "ds.json") << R"({"train_micro_batch_size_per_gpu": "auto", "gradient_clipping": 1.0,
    "optimizer": {"type": "AdamW", "params": {"lr": "auto", "weight_decay": "auto"}},
    "wandb": {"enabled": true, "project": "p"},
    "zero_optimization": {"stage": 0}})";
  std::string err;
  EXPECT_EQ(tandem_cli("train --quiet --stop-after 1 " + run.string(), &err), 0) << err;
  EXPECT_NE(err.find("tandem: warning: "), std::string::npos) << err;
  EXPECT_NE(err.find("ds.json:3:"), std::string::npos) << err;
  EXPECT_NE(err.find("wandb"), std::string::npos) << err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tandem
