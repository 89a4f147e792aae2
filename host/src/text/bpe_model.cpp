// Building a byte-level BPE model from its vocabulary and merges, with the checks (bpe_model.hpp).
#include "text/bpe_model.hpp"

#include <cstdio>

#include "text/byte_level.hpp"

namespace tandem::text {

namespace {

// Ids past this are refused: no BPE vocabulary is near it, and an id is an index into a table here.
constexpr int64_t kMaxId = int64_t{1} << 24;

std::string code_point(char32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
  return buf;
}

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

BpeModelBuilder::BpeModelBuilder(std::string source) : model_(std::make_unique<Tokenizer::Model>()) {
  model_->source = std::move(source);
  model_->byte_token.fill(UINT32_MAX);
}

void BpeModelBuilder::add_token(std::string_view chars, int64_t id, const std::string& where) {
  if (id < 0 || id >= kMaxId)
    throw TokenizerError(where, "token " + in_quotes(chars) + " has id " + std::to_string(id) + ", outside [0, " +
                                    std::to_string(kMaxId) + ")");
  char32_t bad = 0;
  std::optional<std::string> bytes = chars_to_bytes(chars, &bad);
  if (!bytes)
    throw TokenizerError(where, "token " + in_quotes(chars) + " (id " + std::to_string(id) + ") holds " + code_point(bad) +
                                    ", which is not one of byte-level BPE's 256 byte characters: this is not a "
                                    "byte-level (GPT-2 style) vocabulary");
  if (bytes->empty()) throw TokenizerError(where, "an empty token (id " + std::to_string(id) + ")");
  const auto index = static_cast<size_t>(id);
  if (model_->bytes.size() <= index) model_->bytes.resize(index + 1);
  if (model_->bytes[index])
    throw TokenizerError(where, "id " + std::to_string(id) + " is given to two tokens, " +
                                    in_quotes(bytes_to_chars(*model_->bytes[index])) + " and " + in_quotes(chars));
  if (bytes->size() == 1) model_->byte_token[static_cast<uint8_t>((*bytes)[0])] = static_cast<uint32_t>(id);
  if (*bytes == "<|endoftext|>") model_->end_of_text = static_cast<uint32_t>(id);
  model_->bytes[index] = std::move(*bytes);
  ids_.emplace(std::string(chars), static_cast<uint32_t>(id));
}

void BpeModelBuilder::add_special(std::string_view content, int64_t id, const std::string& where) {
  if (id < 0 || id >= kMaxId)
    throw TokenizerError(where, "added token " + in_quotes(content) + " has id " + std::to_string(id) + ", outside [0, " +
                                    std::to_string(kMaxId) + ")");
  const auto index = static_cast<size_t>(id);
  if (model_->bytes.size() <= index) model_->bytes.resize(index + 1);
  if (model_->bytes[index] && *model_->bytes[index] != content)
    throw TokenizerError(where, "added token " + in_quotes(content) + " has id " + std::to_string(id) +
                                    ", which the vocabulary gives to " + in_quotes(bytes_to_chars(*model_->bytes[index])));
  model_->bytes[index] = std::string(content);
  if (content == "<|endoftext|>") model_->end_of_text = static_cast<uint32_t>(id);
}

uint32_t BpeModelBuilder::token_id(std::string_view chars, const char* role, std::string_view merge,
                                   const std::string& where) const {
  const auto it = ids_.find(std::string(chars));
  if (it == ids_.end())
    throw TokenizerError(where, "the merge " + in_quotes(merge) + " names " + role + " " + in_quotes(chars) +
                                    ", which is not a token of the vocabulary (are the merges and the vocabulary "
                                    "of the same model?)");
  return it->second;
}

void BpeModelBuilder::add_merge(std::string_view left, std::string_view right, const std::string& where) {
  const std::string merge = std::string(left) + " " + std::string(right);
  const uint32_t l = token_id(left, "the token", merge, where);
  const uint32_t r = token_id(right, "the token", merge, where);
  const uint32_t joined = token_id(std::string(left) + std::string(right), "(joined)", merge, where);
  // A pair listed twice is refused: GPT-2's encoder.py would rank it by its last line, other loaders by
  // its first, so its ids would depend on the reader (GPT-2's own file has none).
  if (!model_->merges.emplace(pair_key(l, r), Merge{next_rank_++, joined}).second)
    throw TokenizerError(where, "the merge " + in_quotes(merge) + " is listed twice; a merge has one rank");
}

std::shared_ptr<const Tokenizer::Model> BpeModelBuilder::finish(std::unique_ptr<Pretokenizer> pretokenizer,
                                                                bool add_prefix_space, const std::string& vocab_where) {
  for (unsigned b = 0; b < 256; ++b)
    if (model_->byte_token[b] == UINT32_MAX)
      throw TokenizerError(vocab_where, "the vocabulary has no token for the byte " + std::to_string(b) + " (" +
                                            in_quotes(bytes_to_chars(std::string(1, static_cast<char>(b)))) +
                                            "): a byte-level BPE vocabulary holds all 256, or some text cannot be encoded");
  model_->pretokenizer = std::move(pretokenizer);
  model_->add_prefix_space = add_prefix_space;
  return std::shared_ptr<const Tokenizer::Model>(std::move(model_));
}

}  // namespace tandem::text
