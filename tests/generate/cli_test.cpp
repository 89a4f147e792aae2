// The commands `tandem generate`, `tandem eval` and `tandem checkpoint export`: what they print, and
// each bad input refused with exit 2 naming the option, the file or what to pass, nothing written.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "tandem/generate.hpp"
#include "trained_model.hpp"

namespace tandem {
namespace {

struct Result {
  int rc = 0;
  std::string out, err;
};

Result tandem_cli(const std::string& args) {
  // One pair of files per test process: ctest runs the tests of this binary in parallel processes.
  const std::string base = (std::filesystem::temp_directory_path() / ("tandem-gen-cli-" + std::to_string(::getpid()))).string();
  const int rc = std::system((std::string(TANDEM_TEST_BINARY_DIR) + "/bin/tandem " + args + " >" + base + ".out 2>" +
                              base + ".err").c_str());
  auto read = [](const std::string& f) {
    std::ifstream in(f);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  return {WEXITSTATUS(rc), read(base + ".out"), read(base + ".err")};
}

const std::string kShape = std::string("--model '") + test::kTinyShape + "'";

TEST(GenerateCli, PrintsTheLibrarysTokensFromACheckpointAndFromAnExport) {
  const std::string ckpt = test::trained_checkpoint().string();
  std::vector<int32_t> want;
  {
    InferenceModel m = test::load_trained();
    want = generate(m.engine(), std::vector<int32_t>{4, 5, 6},
                    {.max_new_tokens = 9, .sampling = {.temperature = 0.8, .top_k = 4, .seed = 21}})
               .tokens;
  }
  std::string line;
  for (size_t i = 0; i < want.size(); ++i) line += (i ? "," : "") + std::to_string(want[i]);
  const std::string args = " --prompt-ids 4,5,6 --max-new-tokens 9 --temperature 0.8 --top-k 4 --seed 21";
  Result r = tandem_cli("generate " + ckpt + " " + kShape + args);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, line + "\n");
  EXPECT_NE(r.err.find("with the model's KV cache"), std::string::npos) << r.err;
  r = tandem_cli("generate " + ckpt + " " + kShape + args + " --no-kv-cache");
  EXPECT_EQ(r.out, line + "\n");

  const std::filesystem::path out = test::temp_dir("cli-export") / "hf";
  r = tandem_cli("checkpoint export " + ckpt + " " + out.string() + " " + kShape);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("model.safetensors config.json"), std::string::npos) << r.out;
  r = tandem_cli("generate " + out.string() + args);  // the shape from the exported config.json
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, line + "\n");
  // A second export into the same, now non-empty, directory: refused, exit 2.
  r = tandem_cli("checkpoint export " + ckpt + " " + out.string() + " " + kShape);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
}

TEST(GenerateCli, RefusesBadInputWithExitTwoAndWhatToDo) {
  const std::string ckpt = test::trained_checkpoint().string();
  Result r = tandem_cli("generate " + ckpt + " " + kShape + " --prompt-ids 1,x");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--prompt-ids: 'x' is not a token id"), std::string::npos) << r.err;
  r = tandem_cli("generate " + ckpt + " " + kShape + " --prompt-ids 1 --top-p 0");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--top-p must be in (0, 1]"), std::string::npos) << r.err;
  r = tandem_cli("generate " + ckpt + " " + kShape + " --prompt-ids 1 --max-new-tokens 16");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("lower --max-new-tokens"), std::string::npos) << r.err;
  // No shape anywhere: the checkpoint was written by Engine::save (no trainer.json, no run file).
  r = tandem_cli("generate " + ckpt + " --prompt-ids 1");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("cannot tell the model's shape"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pass --model"), std::string::npos) << r.err;
  // Another shape than the checkpoint's: the tensor and both shapes named.
  r = tandem_cli("generate " + ckpt +
                 R"( --model '{"n_layer": 2, "n_head": 2, "n_embd": 8, "vocab_size": 32, "block_size": 16}' --prompt-ids 1)");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("transformer.wte.weight is [32, 16]"), std::string::npos) << r.err;
  r = tandem_cli("generate /nonexistent/ckpt --prompt-ids 1");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("no such file or directory"), std::string::npos) << r.err;
}

TEST(GenerateCli, ADamagedCheckpointIsRefusedByName) {
  const std::filesystem::path copy = test::temp_dir("cli-damaged") / "step-1";
  std::filesystem::copy(test::trained_checkpoint(), copy);
  const std::filesystem::path shard = copy / "rank1.safetensors";
  std::filesystem::resize_file(shard, std::filesystem::file_size(shard) - 8);  // a truncated shard
  const Result r = tandem_cli("generate " + copy.string() + " " + kShape + " --prompt-ids 1");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("rank1.safetensors"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(EvalCli, PrintsTheLossAndPerplexityAndRefusesTooLittleData) {
  const std::filesystem::path dir = test::temp_dir("cli-eval");
  {
    std::ofstream raw(dir / "tokens.bin", std::ios::binary);
    for (int i = 0; i < 4 * 16 + 1; ++i) {
      const uint16_t t = static_cast<uint16_t>((i * 3) % 7);
      raw.write(reinterpret_cast<const char*>(&t), 2);
    }
  }
  Result r = tandem_cli("eval " + test::trained_checkpoint().string() + " " + kShape + " --data " +
                        (dir / "tokens.bin").string() + " --format raw --batch 3");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("perplexity"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(64 tokens in 4 windows of 16, raw uint16)"), std::string::npos) << r.out;
  r = tandem_cli("eval " + test::trained_checkpoint().string() + " " + kShape + " --data " +
                 (dir / "missing.bin").string());
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("missing.bin: no such file (--data)"), std::string::npos) << r.err;
  r = tandem_cli("eval " + test::trained_checkpoint().string() + " " + kShape + " --data " +
                 (dir / "tokens.bin").string() + " --format raw --seq 64");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--seq 64 exceeds the model's block_size 16"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tandem
