// Data in shards (llm.c's train_*.bin), a validation file of its own, and the warning for a model's
// vocabulary far larger than its data's.
#include <gtest/gtest.h>

#include "safetensors_bytes.hpp"  // ScratchDir, write_file
#include "tandem/data.hpp"

namespace data = tandem::data;
using tandem_test::ScratchDir;

namespace {

void write_tokens(const std::filesystem::path& p, uint16_t first, size_t n) {
  std::vector<uint16_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<uint16_t>(first + i);
  data::write_llmc_tokens(p, ids);
}

template <typename F>
void expect_data_error(F f, const std::string& file, const std::string& reason) {
  try {
    f();
    ADD_FAILURE() << "accepted; expected: " << reason;
  } catch (const data::DataError& e) {
    EXPECT_EQ(e.file(), file) << e.what();
    EXPECT_NE(e.reason().find(reason), std::string::npos) << "got: " << e.what() << "\nexpected: " << reason;
  }
}

}  // namespace

TEST(Shards, AGlobMatchesFilesByNameSortedAndReadInThatOrder) {
  ScratchDir dir;
  // Written out of order; names sort 000000 < 000001 < 000002.
  write_tokens(dir / "train_000002.bin", 200, 3);
  write_tokens(dir / "train_000000.bin", 0, 4);
  write_tokens(dir / "train_000001.bin", 100, 2);
  write_tokens(dir / "val_000000.bin", 900, 5);  // not matched by train_*
  const std::vector<std::filesystem::path> files = data::expand_shards(dir / "train_*.bin", "data.train");
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].filename(), "train_000000.bin");
  EXPECT_EQ(files[2].filename(), "train_000002.bin");
  const data::Tokens t = data::load_token_shards(files, 1000);
  EXPECT_EQ(t.ids, (std::vector<uint16_t>{0, 1, 2, 3, 100, 101, 200, 201, 202}));
  EXPECT_NE(t.source.find("(3 files)"), std::string::npos) << t.source;
  // A plain path is itself, whether or not it would match a glob.
  EXPECT_EQ(data::expand_shards(dir / "val_000000.bin", "data.val"), std::vector{dir / "val_000000.bin"});
}

TEST(Shards, AGlobThatMatchesNothingOrAMissingFileIsAnError) {
  ScratchDir dir;
  expect_data_error([&] { data::expand_shards(dir / "train_*.bin", "data.train"); }, (dir / "train_*.bin").string(),
                    "data.train: the glob matches no file in " + dir.path().string());
  expect_data_error([&] { data::expand_shards(dir / "train.bin", "data.val"); }, (dir / "train.bin").string(),
                    "no such file (data.val)");
  expect_data_error([&] { data::expand_shards(dir / "s*" / "train.bin", "data.train"); },
                    (dir / "s*" / "train.bin").string(), "a glob may only be in the file name");
  // A shard that is itself bad is named, not the pattern.
  write_tokens(dir / "train_0.bin", 0, 4);
  tandem_test::write_file(dir / "train_1.bin", {1, 2, 3});
  expect_data_error([&] { data::load_token_shards(data::expand_shards(dir / "train_*.bin", "data.train"), 256); },
                    (dir / "train_1.bin").string(), "odd size");
}

TEST(Shards, AValidationFileAppendedAfterTheTrainingStream) {
  // 40 training tokens (0..39), then 24 of a validation file (1000..1023) from val_from = 40.
  auto t = std::make_shared<data::Tokens>();
  t->source = "split";
  for (uint16_t i = 0; i < 40; ++i) t->ids.push_back(i);
  for (uint16_t i = 0; i < 24; ++i) t->ids.push_back(static_cast<uint16_t>(1000 + i));
  t->val_from = 40;
  data::LoaderConfig c;
  c.block_size = 4;
  c.micro_batch = 1;
  c.world_size = 2;
  c.val_fraction = 0.5;  // not used: val_from says where validation begins
  c.val_from = 40;
  for (int rank = 0; rank < 2; ++rank) {
    c.rank = rank;
    const data::DataLoader loader(t, c);
    EXPECT_EQ(loader.train_tokens(), 40u);
    EXPECT_EQ(loader.val_windows(), 5u);  // (24 - 1) / 4
    EXPECT_EQ(loader.val_batches(), 2u);  // per rank: 5 windows over 2 ranks of 1 row
    data::Batch b;
    loader.val_batch(0, b);
    EXPECT_EQ(b.input(0, 0), 1000 + 4 * rank);  // the validation file's windows, dealt to ranks in turn
    EXPECT_EQ(b.target(0, 3), 1000 + 4 * rank + 4);
    // No training window reaches into the validation file.
    data::DataLoader train(t, c);
    for (uint64_t s = 0; s < train.steps_per_epoch(); ++s)
      for (int32_t id : train.next().targets) EXPECT_LT(id, 40);
  }
  c.val_from = 64;
  expect_data_error([&] { data::DataLoader loader(t, c); }, "split", "starts at token 64, past the stream's 64 tokens");
  c.val_from = 60;  // 4 validation tokens: no window of 5
  expect_data_error([&] { data::DataLoader loader(t, c); }, "split", "the validation data has 4 tokens, 0 windows of 5 tokens");
}

TEST(Shards, AVocabularyFarLargerThanTheDataIsWarnedAbout) {
  data::Tokens gpt2;
  gpt2.source = "gpt2.bin";
  gpt2.format = data::TokenFormat::LlmC;
  gpt2.ids = {15496, 995, 50256};
  EXPECT_EQ(data::vocab_size_warning(50257, gpt2), "");
  EXPECT_EQ(data::vocab_size_warning(100514, gpt2), "");  // exactly twice: no warning
  const std::string w = data::vocab_size_warning(100515, gpt2);
  EXPECT_NE(w.find("gpt2.bin: the model's vocab_size 100515 is more than twice what the data uses (its largest token id "
                   "is 50256)"),
            std::string::npos)
      << w;
  // Byte-level text under GPT-2's vocabulary: warned about. Under the byte vocabulary: never, though
  // English uses only about half of the 256 bytes.
  data::Tokens text;
  text.source = "kjv.txt";
  text.format = data::TokenFormat::Text;
  text.ids = {'I', 'n', ' ', 't', 'h', 'e'};
  EXPECT_EQ(data::vocab_size_warning(256, text), "");
  EXPECT_NE(data::vocab_size_warning(50257, text).find("byte-level text needs 256"), std::string::npos);
}
