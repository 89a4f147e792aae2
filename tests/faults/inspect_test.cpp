// `tandem checkpoint inspect DIR [--json]` (issue 21): what checkpoints hold, each verified; exit 0
// when all are whole, 1 naming the damage, 2 when DIR holds no checkpoint.
#include <gtest/gtest.h>

#include "fault_support.hpp"
#include "tandem/checkpoint_manifest.hpp"
#include "tandem/safetensors.hpp"

namespace tandem {
namespace {

using test::Child;
using test::run_tandem;

struct Output {
  int code = 0;
  std::string out, err;
};

Output tandem_cli(const std::vector<std::string>& args, const std::filesystem::path& stem) {
  Child c(args, stem);
  const int status = c.wait();
  return Output{WIFEXITED(status) ? WEXITSTATUS(status) : -1, c.out(), c.err()};
}

class Inspect : public ::testing::Test {
 protected:
  // The tiny run under ZeRO-2 on 2 ranks, stopped after step 2 (checkpoints step-1 and step-2).
  void zero2_run(const std::string& ckpt) {
    std::string text = test::train_run(4, ckpt);
    text.replace(text.find(R"("stage": 0)"), 10, R"("stage": 2)");
    const auto file = scratch_.write(ckpt + ".json", text);
    ASSERT_EQ(run_tandem({"train", file.string(), "-q", "--stop-after", "2"}, scratch_ / ckpt), 0);
  }
  test::Scratch scratch_{"inspect"};
};

TEST_F(Inspect, SaysWhatEachCheckpointHoldsAndThatItIsWhole) {
  zero2_run("ck");
  const Output text = tandem_cli({"checkpoint", "inspect", (scratch_ / "ck").string()}, scratch_ / "text");
  EXPECT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("ck/step-00000001: whole"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("ck/step-00000002: whole"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("ZeRO-2, world size 2, step 2 (2 taken, 0 skipped, 2 micro-steps)"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("optimizer state: exp_avg, exp_avg_sq; scheduler state"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("data: epoch 0, step 2 (world size 2 x micro_batch 2 rows of 16 tokens, seed 5"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("rank1.safetensors"), std::string::npos) << text.out;

  const Output js = tandem_cli({"checkpoint", "inspect", (scratch_ / "ck/step-00000002").string(), "--json"},
                               scratch_ / "json");
  ASSERT_EQ(js.code, 0) << js.err;
  const json::Document doc = json::parse(js.out);
  ASSERT_EQ(doc.root.find("checkpoints")->items().size(), 1u);
  const json::Value& c = doc.root.find("checkpoints")->items()[0];
  EXPECT_TRUE(c.find("whole")->as_bool());
  EXPECT_EQ(c.find("stage")->as_int(), 2);
  EXPECT_EQ(c.find("world_size")->as_int(), 2);
  EXPECT_EQ(c.find("global_steps")->as_int(), 2);
  // The parameters are the model's: the elements of model.safetensors.
  const safetensors::File weights = safetensors::File::open(scratch_ / "ck/step-00000002/model.safetensors");
  int64_t elements = 0;
  for (const safetensors::TensorInfo& t : weights.tensors()) elements += static_cast<int64_t>(t.numel());
  EXPECT_EQ(c.find("parameters")->as_int(), elements);
  EXPECT_EQ(c.find("tensors")->as_int(), static_cast<int64_t>(weights.tensors().size()));
  EXPECT_EQ(c.find("data")->find("step")->as_int(), 2);
  int64_t bytes = 0;
  for (const auto& f : describe_checkpoint_files(scratch_ / "ck/step-00000002").files) bytes += static_cast<int64_t>(f.size);
  EXPECT_EQ(c.find("bytes")->as_int(), bytes);
}

TEST_F(Inspect, NamesTheDamageAndExitsOne) {
  zero2_run("ck");
  {  // a flipped byte: the manifest's checksum
    std::fstream f(scratch_ / "ck/step-00000001/rank1.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-40, std::ios::end);
    const char ch = static_cast<char>(f.peek());
    f.put(static_cast<char>(ch ^ 0x04));
  }
  // Shards that a checksum cannot fault (the manifest rewritten after rank0's shard was copied over
  // rank1's): the gather finds the partition no rank holds.
  const auto step2 = scratch_ / "ck/step-00000002";
  std::filesystem::copy_file(step2 / "rank0.safetensors", step2 / "rank1.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  write_checkpoint_manifest(step2);
  const Output o = tandem_cli({"checkpoint", "inspect", (scratch_ / "ck").string(), "--json"}, scratch_ / "damaged");
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.err.find("step-00000001 is damaged: rank1.safetensors checksum mismatch"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("step-00000002 is damaged: "), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("is in no rank's shard"), std::string::npos) << o.err;
  EXPECT_FALSE(json::parse(o.out).root.find("whole")->as_bool());
}

TEST_F(Inspect, CoversEachModelOfARunOfSeveralAndRefusesADirectoryWithoutCheckpoints) {
  const std::string run = std::string(R"({"models": {"first": {"model": )") + test::kTinyModel +
                          R"(, "deepspeed": )" + test::kTrainedConfig + R"(}, "second": {"model": )" +
                          test::kTeacherModel + R"(, "deepspeed": )" + test::kTrainedConfig + R"(}}, )" +
                          test::kLoopKeys + R"(, "steps": 2, "checkpoint_dir": "two"})";
  const auto file = scratch_.write("two.json", run);
  ASSERT_EQ(run_tandem({"train", file.string(), "-q"}, scratch_ / "two"), 0);
  const Output o = tandem_cli({"checkpoint", "inspect", (scratch_ / "two").string()}, scratch_ / "models");
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("two/first/step-00000002 (model first): whole"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("two/second/step-00000002 (model second): whole"), std::string::npos) << o.out;

  std::filesystem::create_directories(scratch_ / "nothing");
  const Output none = tandem_cli({"checkpoint", "inspect", (scratch_ / "nothing").string()}, scratch_ / "none");
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("no checkpoint here"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace tandem
