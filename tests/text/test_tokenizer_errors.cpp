// Tokenizer files that cannot be used: each refusal names the file (with line:column or line where
// there is one) and what is wrong.
#include <gtest/gtest.h>

#include "tokenizer_fixtures.hpp"

using tandem::text::Tokenizer;
using tandem::text::TokenizerError;
using tandem_test::ScratchDir;
using tandem_test::TinyVocab;

namespace {

template <typename F>
void expect_refused(F load, const std::string& where, const std::string& reason) {
  try {
    load();
    ADD_FAILURE() << "accepted; expected: " << reason;
  } catch (const TokenizerError& e) {
    EXPECT_EQ(e.where(), where) << e.what();
    EXPECT_NE(e.reason().find(reason), std::string::npos) << "got: " << e.what() << "\nexpected: " << reason;
  }
}

}  // namespace

TEST(TokenizerErrors, MissingFiles) {
  ScratchDir dir;
  expect_refused([&] { Tokenizer::from_gpt2_files(dir / "encoder.json", dir / "vocab.bpe"); },
                 (dir / "encoder.json").string(), "no such file (GPT-2's encoder.json)");
  TinyVocab().write_gpt2(dir.path());
  std::filesystem::remove(dir / "vocab.bpe");
  expect_refused([&] { Tokenizer::from_gpt2_files(dir / "encoder.json", dir / "vocab.bpe"); },
                 (dir / "vocab.bpe").string(), "no such file (GPT-2's merges, vocab.bpe)");
  expect_refused([&] { Tokenizer::load(dir / "nowhere"); }, (dir / "nowhere").string(), "no such file or directory");
  std::filesystem::create_directory(dir / "empty");
  expect_refused([&] { Tokenizer::load(dir / "empty"); }, (dir / "empty").string(),
                 "neither tokenizer.json nor encoder.json and vocab.bpe");
}

TEST(TokenizerErrors, MalformedJsonAtLineAndColumn) {
  ScratchDir dir;
  TinyVocab v;
  v.write_gpt2(dir.path());
  TinyVocab::write_text(dir / "encoder.json", "{\"a\": 0,\n  \"b\": }");
  expect_refused([&] { Tokenizer::from_gpt2_files(dir / "encoder.json", dir / "vocab.bpe"); },
                 (dir / "encoder.json").string() + ":2:8", "(GPT-2's encoder.json)");
  TinyVocab::write_text(dir / "tokenizer.json", "[1, 2");
  expect_refused([&] { Tokenizer::from_tokenizer_json(dir / "tokenizer.json"); },
                 (dir / "tokenizer.json").string() + ":1:6", "(a Hugging Face tokenizer.json)");
}

TEST(TokenizerErrors, BadVocabularyEntries) {
  ScratchDir dir;
  TinyVocab v;
  v.write_gpt2(dir.path());
  const auto load = [&] { Tokenizer::from_gpt2_files(dir / "encoder.json", dir / "vocab.bpe"); };
  TinyVocab::write_text(dir / "encoder.json", "{\"a\": \"one\"}");
  expect_refused(load, (dir / "encoder.json").string() + ":1:2", "token \"a\" has a string for its id, not an integer");
  // A plain space is not a byte-level character (GPT-2 writes it as "Ġ"): not a byte-level vocabulary.
  TinyVocab::write_text(dir / "encoder.json", "{\"a\": 0,\n \"a b\": 1}");
  expect_refused(load, (dir / "encoder.json").string() + ":2:2", "holds U+0020, which is not one of byte-level BPE's");
  TinyVocab::write_text(dir / "encoder.json", "{\"a\": 0, \"b\": 0}");
  expect_refused(load, (dir / "encoder.json").string() + ":1:10", "id 0 is given to two tokens, \"a\" and \"b\"");
  // Every byte needs its token, or some text could not be encoded.
  TinyVocab::write_text(dir / "encoder.json", "{\"a\": 0}");
  TinyVocab::write_text(dir / "vocab.bpe", "#version: 0.2\n");
  expect_refused(load, (dir / "encoder.json").string(), "no token for the byte 0 (\"\xC4\x80\")");
}

TEST(TokenizerErrors, BadMerges) {
  ScratchDir dir;
  TinyVocab v;
  v.write_gpt2(dir.path());
  const auto load = [&] { Tokenizer::from_gpt2_files(dir / "encoder.json", dir / "vocab.bpe"); };
  TinyVocab::write_text(dir / "vocab.bpe", "#version: 0.2\nh e\nq z\n");  // "qz" is no token
  expect_refused(load, (dir / "vocab.bpe").string() + ":3",
                 "the merge \"q z\" names (joined) \"qz\", which is not a token of the vocabulary");
  TinyVocab::write_text(dir / "vocab.bpe", "#version: 0.2\nh e\nhe\xE2\x82\xAC ll\n");  // "he€" is no token
  expect_refused(load, (dir / "vocab.bpe").string() + ":3", "names the token \"he\xE2\x82\xAC\"");
  TinyVocab::write_text(dir / "vocab.bpe", "#version: 0.2\nh e l\n");
  expect_refused(load, (dir / "vocab.bpe").string() + ":2", "two tokens separated by one space, got \"h e l\"");
  TinyVocab::write_text(dir / "vocab.bpe", "#version: 0.2\nh e\nh e\n");
  expect_refused(load, (dir / "vocab.bpe").string() + ":3", "the merge \"h e\" is listed twice");
}

TEST(TokenizerErrors, TokenizerJsonThatWouldGiveOtherIds) {
  ScratchDir dir;
  TinyVocab v;
  const std::filesystem::path f = dir / "tokenizer.json";
  const auto load = [&] { Tokenizer::from_tokenizer_json(f); };
  std::string wordpiece = v.tokenizer_json();
  wordpiece.replace(wordpiece.find("\"type\": \"BPE\""), 13, "\"type\": \"WordPiece\"");
  TinyVocab::write_text(f, wordpiece);
  try {
    load();
    ADD_FAILURE() << "accepted a WordPiece model";
  } catch (const TokenizerError& e) {
    EXPECT_NE(e.reason().find("model type \"WordPiece\" (not BPE)"), std::string::npos) << e.what();
    EXPECT_EQ(e.where().rfind(f.string() + ":", 0), 0u) << e.what();  // at the model's line:column
  }
  std::string normalizer = v.tokenizer_json();
  normalizer.replace(normalizer.find("\"normalizer\": null"), 18, "\"normalizer\": {\"type\": \"NFC\"}");
  TinyVocab::write_text(f, normalizer);
  expect_refused(load, f.string() + ":4:7", "a normalizer: tandem's tokenizer is GPT-2's byte-level BPE");
  TinyVocab::write_text(f, v.tokenizer_json(false, R"({"type": "Whitespace"})"));
  expect_refused(load, f.string() + ":4:27", "pre_tokenizer \"Whitespace\"");
  TinyVocab::write_text(f, v.tokenizer_json(false, R"({"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}, {"type": "ByteLevel", "use_regex": false}]})"));
  try {
    load();
    ADD_FAILURE() << "accepted a regex that does not compile";
  } catch (const TokenizerError& e) {
    EXPECT_NE(e.reason().find("does not compile at offset 9 of \"(unclosed\""), std::string::npos) << e.what();
  }
  TinyVocab::write_text(f, R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}})");
  expect_refused(load, f.string() + ":1:27", "the vocabulary is empty");
}
