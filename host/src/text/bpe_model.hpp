// What a loaded byte-level BPE tokenizer is (tandem/tokenizer.hpp): the tokens' bytes by id, the
// merges by pair, the pre-tokenizer. Built once by BpeModelBuilder from whichever file format, then
// only read.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tandem/tokenizer.hpp"
#include "text/pretokenizer.hpp"

namespace tandem::text {

struct Merge {
  uint32_t rank;    // lower merges first
  uint32_t result;  // the token of the two joined
};

inline uint64_t pair_key(uint32_t left, uint32_t right) { return (uint64_t{left} << 32) | right; }

struct Tokenizer::Model {
  std::string source;
  std::vector<std::optional<std::string>> bytes;  // by id; none for an id no token has
  std::array<uint32_t, 256> byte_token{};         // the one-byte token of each byte
  std::unordered_map<uint64_t, Merge> merges;      // by pair_key(left, right)
  std::unique_ptr<Pretokenizer> pretokenizer;      // null: the whole text is one piece
  bool add_prefix_space = false;                   // a space before text that does not begin with one
  std::optional<uint32_t> end_of_text;
};

// Collects a vocabulary and merges, checking each as it comes; `where` strings name the file and
// line:column so that an error points at the entry.
class BpeModelBuilder {
 public:
  explicit BpeModelBuilder(std::string source);

  // A token of the vocabulary, its string in byte-level characters. A string outside the byte-level
  // alphabet, a duplicate id or an id outside [0, 2^24) is an error at `where`.
  void add_token(std::string_view chars, int64_t id, const std::string& where);
  // A special token (tokenizer.json's added_tokens): its content is literal text, not byte-level
  // characters. The same id as a vocabulary token is allowed when the bytes agree.
  void add_special(std::string_view content, int64_t id, const std::string& where);
  // The next merge (ranks follow the calls' order). Either side, or the two joined, not being a token
  // of the vocabulary is an error at `where` naming it.
  void add_merge(std::string_view left, std::string_view right, const std::string& where);

  // Checks that every byte has its token; `vocab_where` names the vocabulary for the message.
  std::shared_ptr<const Tokenizer::Model> finish(std::unique_ptr<Pretokenizer> pretokenizer, bool add_prefix_space,
                                                 const std::string& vocab_where);

 private:
  uint32_t token_id(std::string_view chars, const char* role, std::string_view merge, const std::string& where) const;

  std::unique_ptr<Tokenizer::Model> model_;
  std::unordered_map<std::string, uint32_t> ids_;  // byte-level string -> id, for the merges
  uint32_t next_rank_ = 0;
};

}  // namespace tandem::text
