// `tandem train`'s data given as separate train and val files, the training data as shards by glob,
// and the warning for a vocabulary far larger than the data's.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include <unistd.h>

#include "engine_support.hpp"
#include "tandem/data.hpp"
#include "tandem/train.hpp"

namespace tandem {
namespace {

// 6000 byte tokens of sentences from a fixed generator.
std::vector<uint16_t> corpus_tokens() {
  const char* words[] = {"in", "the", "beginning", "was", "word", "and", "light", "darkness", "upon", "face"};
  std::mt19937 gen(11);
  std::string text;
  while (text.size() < 6000) text += std::string(words[gen() % 10]) + (gen() % 9 == 0 ? ".\n" : " ");
  text.resize(6000);
  return std::vector<uint16_t>(text.begin(), text.end());
}

void write_config(const std::filesystem::path& dir) {
  std::ofstream(dir / "ds.json") << R"({"train_micro_batch_size_per_gpu": "auto", "gradient_clipping": 1.0,
    "optimizer": {"type": "AdamW", "params": {"lr": "auto", "weight_decay": "auto"}},
    "zero_optimization": {"stage": 0}})";
}

std::filesystem::path write_run(const std::filesystem::path& dir, const std::string& name, const std::string& data,
                                int vocab = 256) {
  std::ofstream(dir / name) << R"({
    "model": {"type": "gpt", "params": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": )" +
                                   std::to_string(vocab) + R"(, "block_size": 16}},
    "data": )" + data + R"(,
    "deepspeed": "ds.json", "ranks": 2, "steps": 8, "micro_batch": 2, "lr": 3e-3, "weight_decay": 0.01,
    "seed": 5, "eval_interval": 4, "eval_batches": 2, "metrics": ")" +
                                   name + R"(.metrics"})";
  return dir / name;
}

// The metrics without their timings.
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

int tandem_cli(const std::string& args, std::string* err) {
  const std::string log =
      (std::filesystem::temp_directory_path() / ("tandem-data-err-" + std::to_string(::getpid()) + ".txt")).string();
  const int rc = std::system((std::string(TANDEM_TEST_BINARY_DIR) + "/bin/tandem " + args + " 2>" + log + " >/dev/null").c_str());
  std::ifstream in(log);
  std::stringstream s;
  s << in.rdbuf();
  *err = s.str();
  return WEXITSTATUS(rc);
}

TrainOptions quiet() {
  TrainOptions o;
  o.progress = false;
  return o;
}

}  // namespace

// Three training shards and a val file hold the tokens of one file split by val_fraction 0.1 (6000
// tokens: 5400 train, 600 val): both runs must train and validate on the same windows, bit for bit.
// Shards read out of order, or validation on anything but the val file, would change the metrics.
TEST(TrainData, SeparateValFileAndShardsTrainAsTheSplitOfOneFile) {
  const auto dir = test::temp_dir("train-data");
  write_config(dir);
  const std::vector<uint16_t> all = corpus_tokens();
  const std::span<const uint16_t> tokens(all);
  data::write_llmc_tokens(dir / "whole.bin", tokens);
  data::write_llmc_tokens(dir / "train_000002.bin", tokens.subspan(3600, 1800));  // written out of order
  data::write_llmc_tokens(dir / "train_000000.bin", tokens.subspan(0, 1800));
  data::write_llmc_tokens(dir / "train_000001.bin", tokens.subspan(1800, 1800));
  data::write_llmc_tokens(dir / "val.bin", tokens.subspan(5400));
  const TrainSummary one =
      train(load_run_file(write_run(dir, "one.json", R"({"path": "whole.bin", "val_fraction": 0.1})")), quiet());
  const TrainSummary split =
      train(load_run_file(write_run(dir, "split.json", R"({"train": "train_*.bin", "val": "val.bin"})")), quiet());
  const std::vector<std::string> expected = numerics(dir / "one.json.metrics");
  ASSERT_EQ(expected.size(), 8u);
  EXPECT_EQ(numerics(dir / "split.json.metrics"), expected);
  // Validation loss at the eval interval (steps 4 and 8) and at the end.
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(expected[i].find("val_loss") != std::string::npos, i == 3 || i == 7) << expected[i];
  ASSERT_TRUE(split.val_loss);
  EXPECT_EQ(split.val_loss, one.val_loss);
  std::filesystem::remove_all(dir);
}

TEST(TrainData, BadDataEntriesAndAFarLargerVocabulary) {
  const auto dir = test::temp_dir("train-data-bad");
  write_config(dir);
  data::write_llmc_tokens(dir / "val.bin", std::vector<uint16_t>(600, 'a'));
  std::string err;
  EXPECT_EQ(tandem_cli("train --quiet " + write_run(dir, "a.json", R"({"train": "train_*.bin", "val": "val.bin"})").string(), &err), 2);
  EXPECT_NE(err.find("train_*.bin: the run file's data.train: the glob matches no file in"), std::string::npos) << err;
  EXPECT_EQ(tandem_cli("train --quiet " +
                           write_run(dir, "b.json", R"({"train": "val.bin", "val": "val.bin", "val_fraction": 0.1})").string(),
                       &err),
            2);
  EXPECT_NE(err.find("b.json:3:52: data.val_fraction: \"val\" names the validation data"), std::string::npos) << err;
  EXPECT_EQ(tandem_cli("train --quiet " + write_run(dir, "c.json", R"({"path": "val.bin", "train": "val.bin"})").string(), &err), 2);
  EXPECT_NE(err.find("\"train\" and \"path\" both name the training data"), std::string::npos) << err;
  // Byte-level text under GPT-2's vocabulary trains, with a warning that names the data.
  const std::vector<uint16_t> text = corpus_tokens();
  std::ofstream(dir / "text.txt") << std::string(text.begin(), text.end());
  EXPECT_EQ(tandem_cli("train --quiet --stop-after 1 " + write_run(dir, "d.json", R"({"path": "text.txt"})", 50257).string(), &err),
            0)
      << err;
  EXPECT_NE(err.find("tandem: warning: " + (dir / "text.txt").string() + ": the model's vocab_size 50257 is more than twice"),
            std::string::npos)
      << err;
  std::filesystem::remove_all(dir);
}

}  // namespace tandem
