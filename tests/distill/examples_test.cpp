// The C++ examples (examples/distill.cpp, examples/two_models.cpp) are programs a user runs: they
// build with the project, and here they run a couple of steps on a small corpus under the seed's
// configs, against a teacher checkpoint of their own architecture written by `tandem train`.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>

#include "distill_support.hpp"
#include "tandem/train.hpp"

namespace tandem {
namespace {

std::string run(const std::string& command, int& status) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>&1").c_str(), "r"), pclose);
  std::string out;
  char buffer[512];
  while (pipe && std::fgets(buffer, sizeof buffer, pipe.get()) != nullptr) out += buffer;
  status = WEXITSTATUS(pclose(pipe.release()));
  return out;
}

class Examples : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("examples");
    std::mt19937_64 gen(4);
    const char* words[] = {"in", "the", "beginning", "god", "created", "heaven", "and", "earth"};
    std::ofstream corpus(dir_ / "corpus.txt");
    for (int i = 0; i < 12000; ++i) corpus << words[gen() % 8] << (i % 11 == 10 ? ".\n" : " ");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  const std::string bin_ = std::string(TANDEM_TEST_BINARY_DIR) + "/bin/";
};

TEST_F(Examples, DistillRunsTheSeedsLoopAgainstATrainCheckpoint) {
  // A teacher of the example's architecture (4 x 128, block 128), one step of `tandem train`.
  std::ofstream(dir_ / "teacher.json") << R"({
    "model": {"type": "gpt", "params": {"n_layer": 4, "n_head": 4, "n_embd": 128, "vocab_size": 256, "block_size": 128}},
    "deepspeed": ")" << TANDEM_TEST_SOURCE_DIR << R"(/configs/examples/zero0_adamw.json",
    "data": {"path": "corpus.txt"}, "ranks": 2, "steps": 1, "micro_batch": 1, "lr": 1e-3, "weight_decay": 0,
    "warmup_steps": 0, "eval_batches": 1, "checkpoint_dir": "teacher"})";
  TrainOptions quiet;
  quiet.progress = false;
  train(load_run_file(dir_ / "teacher.json"), quiet);

  int status = -1;
  const std::string out = run(bin_ + "tandem-example-distill --steps 2 --micro-batch 1 --data " +
                                  (dir_ / "corpus.txt").string() + " --teacher-checkpoint " + (dir_ / "teacher").string(),
                              status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("step 2: loss"), std::string::npos) << out;
  EXPECT_NE(out.find("student val loss"), std::string::npos) << out;

  // Without a teacher checkpoint it says how to make one.
  const std::string missing = run(bin_ + "tandem-example-distill --steps 1 --data " + (dir_ / "corpus.txt").string() +
                                      " --teacher-checkpoint " + (dir_ / "nowhere").string(),
                                  status);
  EXPECT_EQ(status, 1);
  EXPECT_NE(missing.find("tandem train configs/examples/distill_teacher.json"), std::string::npos) << missing;
}

TEST_F(Examples, TwoModelsTrainsBothAndCheckpointsEach) {
  int status = -1;
  const std::string out = run(bin_ + "tandem-example-two-models --steps 2 --micro-batch 1 --data " +
                                  (dir_ / "corpus.txt").string() + " --checkpoint-dir " + (dir_ / "ckpt").string(),
                              status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("step 2: first loss"), std::string::npos) << out;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "ckpt" / "first_model" / "engine.json"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "ckpt" / "second_model" / "engine.json"));
}

}  // namespace
}  // namespace tandem
