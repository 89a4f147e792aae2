// Token files: byte-level text, llm.c .bin (headers built by hand here) and raw uint16, and a clear
// error, naming the file, for each way one can be wrong.
#include <gtest/gtest.h>

#include "safetensors_bytes.hpp"  // ScratchDir, write_file, read_file, append_le
#include "tandem/data.hpp"

namespace data = tandem::data;
using tandem_test::append_le;
using tandem_test::ScratchDir;

namespace {

std::vector<uint8_t> llmc_file(int32_t magic, int32_t version, int32_t count, const std::vector<uint16_t>& tokens) {
  std::vector<uint8_t> out;
  append_le(out, magic);
  append_le(out, version);
  append_le(out, count);
  out.resize(1024, 0);
  for (uint16_t t : tokens) append_le(out, t);
  return out;
}

std::vector<uint8_t> raw_file(const std::vector<uint16_t>& tokens) {
  std::vector<uint8_t> out;
  for (uint16_t t : tokens) append_le(out, t);
  return out;
}

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// load_tokens must fail with a DataError naming `path` whose reason contains `reason`.
void expect_refused(const std::filesystem::path& path, uint32_t vocab, data::TokenFormat format,
                    const std::string& reason) {
  try {
    data::load_tokens(path, vocab, format);
    ADD_FAILURE() << "accepted " << path << "; expected: " << reason;
  } catch (const data::DataError& e) {
    EXPECT_EQ(e.file(), path.string());
    EXPECT_NE(e.reason().find(reason), std::string::npos) << "reason: " << e.reason() << "\nexpected: " << reason;
  }
}

}  // namespace

TEST(TokenFiles, TextIsOneTokenPerByte) {
  ScratchDir dir;
  const std::string text = "In the beginning\n\xC3\xA9\xFF";  // UTF-8 bytes stay separate tokens
  tandem_test::write_file(dir / "a.txt", bytes_of(text));
  const data::Tokens t = data::load_tokens(dir / "a.txt", data::kByteVocab);
  EXPECT_EQ(t.format, data::TokenFormat::Text);
  EXPECT_EQ(t.source, (dir / "a.txt").string());
  ASSERT_EQ(t.ids.size(), text.size());
  for (size_t i = 0; i < text.size(); ++i) EXPECT_EQ(t.ids[i], static_cast<uint8_t>(text[i]));
}

TEST(TokenFiles, LlmcFileBuiltByHand) {
  ScratchDir dir;
  tandem_test::write_file(dir / "train.bin", llmc_file(20240520, 1, 4, {50256, 0, 7, 1000}));
  const data::Tokens t = data::load_tokens(dir / "train.bin", 50257);
  EXPECT_EQ(t.format, data::TokenFormat::LlmC);
  EXPECT_EQ(t.ids, (std::vector<uint16_t>{50256, 0, 7, 1000}));
}

TEST(TokenFiles, RawFileWithoutHeader) {
  ScratchDir dir;
  tandem_test::write_file(dir / "raw.bin", raw_file({3, 65535, 0}));
  const data::Tokens t = data::load_tokens(dir / "raw.bin", 65536);
  EXPECT_EQ(t.format, data::TokenFormat::Raw);
  EXPECT_EQ(t.ids, (std::vector<uint16_t>{3, 65535, 0}));
  // The same bytes read as text when named so.
  EXPECT_EQ(data::load_tokens(dir / "raw.bin", 65536, data::TokenFormat::Raw).ids, t.ids);
}

TEST(TokenFiles, WriterProducesTheLlmcLayout) {
  ScratchDir dir;
  const std::vector<uint16_t> tokens = {1, 2, 65535, 256};
  data::write_llmc_tokens(dir / "out.bin", tokens);
  EXPECT_EQ(tandem_test::read_file(dir / "out.bin"), llmc_file(20240520, 1, 4, tokens));
  EXPECT_EQ(dir.list(), std::vector<std::string>{"out.bin"});
  EXPECT_THROW(data::write_llmc_tokens(dir / "empty.bin", {}), data::DataError);
}

TEST(TokenFiles, TextToTokenFile) {
  ScratchDir dir;
  tandem_test::write_file(dir / "t.txt", bytes_of("abc"));
  data::text_to_token_file(dir / "t.txt", dir / "t.bin");
  EXPECT_EQ(tandem_test::read_file(dir / "t.bin"), llmc_file(20240520, 1, 3, {'a', 'b', 'c'}));
  EXPECT_EQ(data::load_tokens(dir / "t.bin", 256).ids, (std::vector<uint16_t>{'a', 'b', 'c'}));
}

TEST(TokenFiles, MissingEmptyAndNotAFile) {
  ScratchDir dir;
  expect_refused(dir / "missing.txt", 256, data::TokenFormat::Auto, "no such file");
  tandem_test::write_file(dir / "empty.txt", {});
  expect_refused(dir / "empty.txt", 256, data::TokenFormat::Auto, "empty file (0 bytes)");
  tandem_test::write_file(dir / "empty.bin", {});
  expect_refused(dir / "empty.bin", 256, data::TokenFormat::Auto, "empty file (0 bytes)");
  expect_refused(dir.path(), 256, data::TokenFormat::Auto, "is a directory");
}

TEST(TokenFiles, CorruptTokenFiles) {
  ScratchDir dir;
  tandem_test::write_file(dir / "odd.bin", {1, 2, 3});
  expect_refused(dir / "odd.bin", 256, data::TokenFormat::Auto, "odd size (3 bytes) for a raw uint16 token file");

  tandem_test::write_file(dir / "v2.bin", llmc_file(20240520, 2, 1, {5}));
  expect_refused(dir / "v2.bin", 256, data::TokenFormat::Auto, "llm.c token file version 2, expected 1");

  tandem_test::write_file(dir / "long.bin", llmc_file(20240520, 1, 5, {1, 2, 3}));
  expect_refused(dir / "long.bin", 256, data::TokenFormat::Auto,
                 "llm.c header says 5 tokens (1034 bytes with the header), the file has 1030 bytes");
  tandem_test::write_file(dir / "short.bin", llmc_file(20240520, 1, 1, {1, 2, 3}));
  expect_refused(dir / "short.bin", 256, data::TokenFormat::Auto, "llm.c header says 1 tokens");
  tandem_test::write_file(dir / "neg.bin", llmc_file(20240520, 1, -1, {1}));
  expect_refused(dir / "neg.bin", 256, data::TokenFormat::Auto, "negative token count");
  tandem_test::write_file(dir / "none.bin", llmc_file(20240520, 1, 0, {}));
  expect_refused(dir / "none.bin", 256, data::TokenFormat::Auto, "holds no tokens");

  std::vector<uint8_t> cut = llmc_file(20240520, 1, 1, {1});
  cut.resize(600);
  tandem_test::write_file(dir / "cut.bin", cut);
  expect_refused(dir / "cut.bin", 256, data::TokenFormat::Auto, "600 bytes, shorter than the 1024-byte llm.c header");

  tandem_test::write_file(dir / "llama.bin", llmc_file(20240801, 7, 1, {1, 0}));
  expect_refused(dir / "llama.bin", 256, data::TokenFormat::Auto, "uint32 tokens");

  // Naming the format explicitly: a raw file is not an llm.c one.
  tandem_test::write_file(dir / "raw.bin", raw_file(std::vector<uint16_t>(600, 1)));
  expect_refused(dir / "raw.bin", 256, data::TokenFormat::LlmC, "not an llm.c token file: magic 65537, expected 20240520");

  tandem_test::write_file(dir / "nul.txt", {'a', 'b', 0, 'c'});
  expect_refused(dir / "nul.txt", 256, data::TokenFormat::Auto, "NUL byte at offset 2: not a text file");
}

TEST(TokenFiles, TokensOutsideTheVocabulary) {
  ScratchDir dir;
  tandem_test::write_file(dir / "t.bin", llmc_file(20240520, 1, 3, {10, 50257, 3}));
  expect_refused(dir / "t.bin", 50257, data::TokenFormat::Auto,
                 "token 50257 at position 1 is outside the model's vocabulary of 50257 (llm.c file)");
  EXPECT_NO_THROW(data::load_tokens(dir / "t.bin", 50258));
  tandem_test::write_file(dir / "t.txt", bytes_of("ab\x80"));
  expect_refused(dir / "t.txt", 128, data::TokenFormat::Auto, "token 128 at position 2 is outside the model's vocabulary of 128");
}
