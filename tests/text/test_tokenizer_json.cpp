// A Hugging Face tokenizer.json of a byte-level BPE model gives the ids that the same vocabulary and
// merges give in GPT-2's format, and both give the ids worked out by hand for a tiny vocabulary.
#include <gtest/gtest.h>

#include "tokenizer_fixtures.hpp"

using tandem::text::Tokenizer;
using tandem_test::ScratchDir;
using tandem_test::TinyVocab;

namespace {

const std::vector<std::string> kTexts = {
    "hello world", "hello  hello\n\nworld's orbit", "shell", "h", "", "\xE2\x9C\x93 ok \xF0\x9F\x99\x82",
    "hellhole whorl or", "it's 'll 've",
};

}  // namespace

TEST(TokenizerJson, TinyVocabularyGivesTheIdsWorkedOutByHand) {
  ScratchDir dir;
  TinyVocab v;
  v.write_gpt2(dir.path());
  const Tokenizer t = Tokenizer::from_gpt2_files(dir / "encoder.json", dir / "vocab.bpe");
  // "hello": h e -> he (256, rank 0), l l -> ll (257), he ll -> hell (258), o stays; " world": Ġ w ->
  // 259, o r -> or (260), l, d.
  EXPECT_EQ(t.encode("hello world"), (std::vector<uint32_t>{258, 'o', 259, 260, 'l', 'd'}));
  // "shell": s, then h e and l l merge, then he ll: s + hell.
  EXPECT_EQ(t.encode("shell"), (std::vector<uint32_t>{'s', 258}));
  // Bytes of a character outside ASCII are tokens of their own: U+2713 is E2 9C 93.
  EXPECT_EQ(t.encode("\xE2\x9C\x93"), (std::vector<uint32_t>{0xE2, 0x9C, 0x93}));
  EXPECT_EQ(t.vocab_size(), 261u);
  EXPECT_FALSE(t.end_of_text());
}

TEST(TokenizerJson, SameIdsAsTheSameVocabularyInGpt2Format) {
  ScratchDir dir;
  TinyVocab v;
  v.write_gpt2(dir.path());
  TinyVocab::write_text(dir / "tokenizer.json", v.tokenizer_json());
  TinyVocab::write_text(dir / "pairs.json", v.tokenizer_json(true));
  const Tokenizer gpt2_format = Tokenizer::from_gpt2_files(dir / "encoder.json", dir / "vocab.bpe");
  const Tokenizer hf = Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
  const Tokenizer hf_pairs = Tokenizer::from_tokenizer_json(dir / "pairs.json");
  for (const std::string& text : kTexts) {
    EXPECT_EQ(hf.encode(text), gpt2_format.encode(text)) << text;
    EXPECT_EQ(hf_pairs.encode(text), gpt2_format.encode(text)) << text;
    EXPECT_EQ(hf.decode(hf.encode(text)), text);
  }
  // The added token: decoded as its text, found as the end of text; its text is still ordinary text
  // to encode().
  EXPECT_EQ(hf.end_of_text(), std::optional<uint32_t>(261));
  EXPECT_EQ(hf.decode_token(261), "<|endoftext|>");
  EXPECT_EQ(hf.vocab_size(), 262u);
  EXPECT_EQ(hf.encode("<|endoftext|>"), gpt2_format.encode("<|endoftext|>"));
  // load() on the directory prefers tokenizer.json, and takes the file itself too.
  EXPECT_EQ(Tokenizer::load(dir.path()).vocab_size(), 262u);
  EXPECT_EQ(Tokenizer::load(dir / "pairs.json").vocab_size(), 262u);
}

// GPT-2's real files in both formats: a tokenizer.json made from encoder.json and vocab.bpe as
// Hugging Face's converter lays it out gives GPT-2's ids.
TEST(TokenizerJson, Gpt2AsTokenizerJsonGivesGpt2Ids) {
  if (!tandem_test::have_gpt2_files()) return;
  ScratchDir dir;
  const auto read = [](const std::filesystem::path& p) {
    const std::vector<uint8_t> b = tandem_test::read_file(p);
    return std::string(b.begin(), b.end());
  };
  const std::string encoder = read(tandem_test::gpt2_dir() / "encoder.json");
  const std::string bpe = read(tandem_test::gpt2_dir() / "vocab.bpe");
  std::string merges = "[";
  size_t line_start = bpe.find('\n') + 1;  // after "#version: 0.2"
  while (line_start < bpe.size()) {
    size_t end = bpe.find('\n', line_start);
    if (end == std::string::npos) end = bpe.size();
    if (end > line_start)
      merges += (merges.size() > 1 ? "," : "") + tandem_test::json_string(bpe.substr(line_start, end - line_start));
    line_start = end + 1;
  }
  merges += "]";
  TinyVocab::write_text(dir / "tokenizer.json",
                        R"({"added_tokens": [{"id": 50256, "content": "<|endoftext|>", "special": true}], "normalizer": null,
                            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
                            "model": {"type": "BPE", "dropout": null, "vocab": )" +
                            encoder + R"(, "merges": )" + merges + "}}");
  const Tokenizer hf = Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
  EXPECT_EQ(hf.encode("Hello world"), (std::vector<uint32_t>{15496, 995}));
  EXPECT_EQ(hf.encode("indivisible"), (std::vector<uint32_t>{521, 452, 12843}));
  EXPECT_EQ(hf.end_of_text(), std::optional<uint32_t>(50256));
}

TEST(TokenizerJson, AddPrefixSpaceAndASplitPreTokenizer) {
  ScratchDir dir;
  TinyVocab v;
  v.write_gpt2(dir.path());
  const Tokenizer gpt2_format = Tokenizer::from_gpt2_files(dir / "encoder.json", dir / "vocab.bpe");
  TinyVocab::write_text(dir / "prefix.json", v.tokenizer_json(false, R"({"type": "ByteLevel", "add_prefix_space": true})"));
  EXPECT_EQ(Tokenizer::from_tokenizer_json(dir / "prefix.json").encode("world"), gpt2_format.encode(" world"));
  EXPECT_EQ(Tokenizer::from_tokenizer_json(dir / "prefix.json").encode(" world"), gpt2_format.encode(" world"));
  // Llama 3's layout: a Split by a regex, then ByteLevel without its own regex. Here the regex keeps
  // every character apart, so no merge can apply.
  TinyVocab::write_text(dir / "split.json",
                        v.tokenizer_json(false, R"({"type": "Sequence", "pretokenizers": [
                          {"type": "Split", "pattern": {"Regex": "."}, "behavior": "Isolated", "invert": false},
                          {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})"));
  EXPECT_EQ(Tokenizer::from_tokenizer_json(dir / "split.json").encode("hello"),
            (std::vector<uint32_t>{'h', 'e', 'l', 'l', 'o'}));
}
