// `tandem tokenize` as a function (data::tokenize_text_file) and as a command: GPT-2's ids in llm.c's
// file layout, read back by the data loader's reader; the validation split; and nothing a user has
// overwritten.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "tandem/data.hpp"
#include "tokenizer_fixtures.hpp"

namespace data = tandem::data;
using tandem_test::ScratchDir;
using tandem_test::TinyVocab;

namespace {

std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

int32_t header_field(const std::vector<uint8_t>& file, int i) {
  int32_t v;
  std::memcpy(&v, file.data() + 4 * i, 4);
  return v;
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

// GPT-2's ids, <|endoftext|> first, in the layout of llm.c's write_datafile (dev/data/data_common.py:
// 256 int32 of header, magic 20240520, version 1, the count; then uint16), and read back by load_tokens.
TEST(TokenizeFile, Gpt2IdsInLlmcLayoutReadBackByTheLoader) {
  if (!tandem_test::have_gpt2_files()) return;
  ScratchDir dir;
  tandem_test::write_file(dir / "in.txt", bytes("Hello world"));
  const data::TokenizeResult r =
      data::tokenize_text_file({.input = dir / "in.txt", .output = dir / "out.bin", .tokenizer = tandem_test::gpt2_dir()});
  EXPECT_EQ(r.train_tokens, 3u);
  EXPECT_EQ(r.val_tokens, 0u);
  EXPECT_EQ(r.vocab_size, 50257u);
  const std::vector<uint8_t> file = tandem_test::read_file(dir / "out.bin");
  ASSERT_EQ(file.size(), 1024u + 3 * 2);
  EXPECT_EQ(header_field(file, 0), 20240520);
  EXPECT_EQ(header_field(file, 1), 1);
  EXPECT_EQ(header_field(file, 2), 3);
  for (int i = 3; i < 256; ++i) EXPECT_EQ(header_field(file, i), 0);
  const data::Tokens t = data::load_tokens(dir / "out.bin", 50257);
  EXPECT_EQ(t.format, data::TokenFormat::LlmC);
  EXPECT_EQ(t.ids, (std::vector<uint16_t>{50256, 15496, 995}));
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"in.txt", "out.bin"}));  // no temporary left behind
}

TEST(TokenizeFile, AValidationSplitTakesTheLastTokens) {
  ScratchDir dir;
  TinyVocab().write_gpt2(dir.path());
  tandem_test::write_file(dir / "in.txt", bytes("abcdefghij"));  // 10 tokens, no merge applies
  const data::TokenizeResult r = data::tokenize_text_file(
      {.input = dir / "in.txt", .output = dir / "x_train.bin", .tokenizer = dir.path(), .val_fraction = 0.3});
  EXPECT_EQ(r.val_output, dir / "x_val.bin");
  EXPECT_EQ(data::load_tokens(dir / "x_train.bin", 261).ids, (std::vector<uint16_t>{'a', 'b', 'c', 'd', 'e', 'f', 'g'}));
  EXPECT_EQ(data::load_tokens(dir / "x_val.bin", 261).ids, (std::vector<uint16_t>{'h', 'i', 'j'}));
  EXPECT_EQ(data::val_output_for("d/shakespeare.bin"), "d/shakespeare_val.bin");
  // Byte-level without a tokenizer: one token per byte, no end-of-text token (the byte vocabulary has none).
  const data::TokenizeResult b = data::tokenize_text_file({.input = dir / "in.txt", .output = dir / "bytes.bin"});
  EXPECT_EQ(b.tokenizer, "bytes");
  EXPECT_EQ(data::load_tokens(dir / "bytes.bin", 256).ids.size(), 10u);
}

TEST(TokenizeFile, NothingAUserHasIsOverwrittenWithoutForceAndTheInputNever) {
  ScratchDir dir;
  tandem_test::write_file(dir / "in.txt", bytes("some text"));
  tandem_test::write_file(dir / "out.bin", bytes("precious"));
  try {
    data::tokenize_text_file({.input = dir / "in.txt", .output = dir / "out.bin"});
    ADD_FAILURE() << "overwrote out.bin";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("already exists: --force replaces it"), std::string::npos) << e.what();
  }
  EXPECT_EQ(tandem_test::read_file(dir / "out.bin"), bytes("precious"));
  // The validation output is checked too, before anything is written.
  tandem_test::write_file(dir / "new_val.bin", bytes("mine"));
  EXPECT_THROW(data::tokenize_text_file({.input = dir / "in.txt", .output = dir / "new.bin", .val_fraction = 0.5}),
               std::invalid_argument);
  EXPECT_FALSE(std::filesystem::exists(dir / "new.bin"));
  // --force replaces an output, but never the input itself.
  data::tokenize_text_file({.input = dir / "in.txt", .output = dir / "out.bin", .force = true});
  EXPECT_EQ(data::load_tokens(dir / "out.bin", 256).ids.size(), 9u);
  expect_data_error([&] { data::tokenize_text_file({.input = dir / "in.txt", .output = dir / "in.txt", .force = true}); },
                    (dir / "in.txt").string(), "is the input file");
  EXPECT_EQ(tandem_test::read_file(dir / "in.txt"), bytes("some text"));
}

TEST(TokenizeFile, BadInputsAreNamed) {
  ScratchDir dir;
  TinyVocab().write_gpt2(dir.path());
  expect_data_error([&] { data::tokenize_text_file({.input = dir / "none.txt", .output = dir / "o.bin"}); },
                    (dir / "none.txt").string(), "no such file");
  tandem_test::write_file(dir / "empty.txt", {});
  expect_data_error([&] { data::tokenize_text_file({.input = dir / "empty.txt", .output = dir / "o.bin"}); },
                    (dir / "empty.txt").string(), "empty file");
  tandem_test::write_file(dir / "latin1.txt", bytes("line one\ncaf\xE9\n"));
  expect_data_error(
      [&] { data::tokenize_text_file({.input = dir / "latin1.txt", .output = dir / "o.bin", .tokenizer = dir.path()}); },
      (dir / "latin1.txt").string(), "not UTF-8: byte 233 at offset 12 (line 2, byte 4 of the line)");
  tandem_test::write_file(dir / "short.txt", bytes("ab"));
  expect_data_error(
      [&] { data::tokenize_text_file({.input = dir / "short.txt", .output = dir / "o.bin", .val_fraction = 0.1}); },
      (dir / "short.txt").string(), "leaves the validation file empty");
  EXPECT_FALSE(std::filesystem::exists(dir / "o.bin"));
}

// The command: its output, and exit 2 naming the file for bad input.
TEST(TokenizeFile, TheCommand) {
  ScratchDir dir;
  TinyVocab().write_gpt2(dir.path());
  tandem_test::write_file(dir / "in.txt", bytes("hello world"));
  const std::string tandem = std::string(TANDEM_TEST_BINARY_DIR) + "/bin/tandem";
  const std::string out = (dir / "stdout").string(), err = (dir / "stderr").string();
  const auto run = [&](const std::string& args) {
    const int rc = std::system((tandem + " tokenize " + args + " >" + out + " 2>" + err).c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  };
  const auto text = [](const std::string& p) {
    const std::vector<uint8_t> b = tandem_test::read_file(p);
    return std::string(b.begin(), b.end());
  };
  ASSERT_EQ(run((dir / "in.txt").string() + " " + (dir / "o.bin").string() + " --tokenizer " + dir.path().string()), 0)
      << text(err);
  EXPECT_NE(text(out).find("11 bytes -> 6 tokens"), std::string::npos) << text(out);
  EXPECT_EQ(data::load_tokens(dir / "o.bin", 261).ids, (std::vector<uint16_t>{258, 'o', 259, 260, 'l', 'd'}));
  EXPECT_EQ(run((dir / "in.txt").string() + " " + (dir / "o.bin").string()), 2);
  EXPECT_NE(text(err).find("o.bin already exists: --force replaces it"), std::string::npos) << text(err);
  EXPECT_EQ(run((dir / "in.txt").string() + " " + (dir / "p.bin").string() + " --tokenizer " + (dir / "nope").string()), 2);
  EXPECT_NE(text(err).find("nope: no such file or directory"), std::string::npos) << text(err);
  EXPECT_EQ(run("--help"), 0);
  EXPECT_NE(text(out).find("usage: tandem tokenize IN.txt OUT.bin"), std::string::npos);
}
