// Encoding and decoding with a loaded byte-level BPE model (tandem/tokenizer.hpp).
#include <queue>
#include <tuple>

#include "tandem/tokenizer.hpp"
#include "text/bpe_model.hpp"
#include "text/byte_level.hpp"

namespace tandem::text {

TokenizerError::TokenizerError(std::string where, std::string reason)
    : std::runtime_error(where.empty() ? reason : where + ": " + reason), where_(std::move(where)), reason_(std::move(reason)) {}

Tokenizer::Tokenizer(std::shared_ptr<const Model> model) : model_(std::move(model)) {}

uint32_t Tokenizer::vocab_size() const { return static_cast<uint32_t>(model_->bytes.size()); }
std::optional<uint32_t> Tokenizer::end_of_text() const { return model_->end_of_text; }
const std::string& Tokenizer::source() const { return model_->source; }

namespace {

// BPE on one piece: its bytes' tokens, then the lowest-ranked adjacent pair merged until none is left.
// A heap of candidate pairs over a linked list of symbols keeps this O(n log n) in the piece's length
// (a piece can be a whole line of punctuation, or megabytes without a space); entries made stale by a
// merge next to them are skipped when popped. Equal ranks are the same pair, taken left to right: the
// order of encoder.py's loop, which merges every occurrence of the best pair left to right.
void encode_piece(const Tokenizer::Model& m, std::string_view piece, std::vector<uint32_t>& out) {
  if (piece.size() == 1) {
    out.push_back(m.byte_token[static_cast<uint8_t>(piece[0])]);
    return;
  }
  struct Symbol {
    uint32_t id;
    int32_t prev, next;  // -1: none
    bool alive;
  };
  std::vector<Symbol> sym(piece.size());
  for (size_t i = 0; i < piece.size(); ++i)
    sym[i] = Symbol{m.byte_token[static_cast<uint8_t>(piece[i])], static_cast<int32_t>(i) - 1,
                    i + 1 < piece.size() ? static_cast<int32_t>(i + 1) : -1, true};
  // (rank, left position, right position): the smallest first.
  using Candidate = std::tuple<uint32_t, int32_t, int32_t>;
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  const auto consider = [&](int32_t left) {
    if (left < 0 || sym[left].next < 0) return;
    const auto it = m.merges.find(pair_key(sym[left].id, sym[sym[left].next].id));
    if (it != m.merges.end()) heap.emplace(it->second.rank, left, sym[left].next);
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(piece.size()); ++i) consider(i);
  while (!heap.empty()) {
    const auto [rank, left, right] = heap.top();
    heap.pop();
    // Stale: a side was merged away, or the left symbol has grown since the pair was pushed.
    if (!sym[left].alive || !sym[right].alive || sym[left].next != right) continue;
    const auto it = m.merges.find(pair_key(sym[left].id, sym[right].id));
    if (it == m.merges.end() || it->second.rank != rank) continue;
    sym[left].id = it->second.result;
    sym[right].alive = false;
    sym[left].next = sym[right].next;
    if (sym[right].next >= 0) sym[sym[right].next].prev = left;
    consider(sym[left].prev);
    consider(left);
  }
  for (int32_t i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

}  // namespace

std::vector<uint32_t> Tokenizer::encode(std::string_view utf8) const {
  if (const std::optional<size_t> bad = first_invalid_utf8(utf8))
    throw TokenizerError("", "the text is not UTF-8: byte " + std::to_string(static_cast<uint8_t>(utf8[*bad])) +
                                 " at offset " + std::to_string(*bad) +
                                 " does not begin a valid UTF-8 sequence (convert the file to UTF-8, e.g. with iconv)");
  std::string prefixed;
  if (model_->add_prefix_space && !utf8.empty() && utf8.front() != ' ') {
    prefixed.reserve(utf8.size() + 1);
    prefixed.push_back(' ');
    prefixed.append(utf8);
    utf8 = prefixed;
  }
  std::vector<uint32_t> ids;
  ids.reserve(utf8.size() / 3);
  // Text repeats its words: each distinct piece is merged once per call. The cache is the call's own,
  // so a Tokenizer shared between threads has no mutable state; its keys point into `utf8`.
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> cache;  // piece -> [begin, end) in ids
  const auto encode_one = [&](std::string_view piece) {
    if (const auto hit = cache.find(piece); hit != cache.end()) {
      const auto [begin, end] = hit->second;
      ids.reserve(ids.size() + (end - begin));  // no reallocation while copying from ids itself
      for (uint32_t i = begin; i < end; ++i) ids.push_back(ids[i]);
      return;
    }
    const auto begin = static_cast<uint32_t>(ids.size());
    encode_piece(*model_, piece, ids);
    if (ids.size() < UINT32_MAX) cache.emplace(piece, std::pair(begin, static_cast<uint32_t>(ids.size())));
  };
  if (model_->pretokenizer)
    model_->pretokenizer->split(utf8, encode_one);
  else if (!utf8.empty())
    encode_one(utf8);
  return ids;
}

std::string Tokenizer::decode_token(uint32_t id) const {
  if (id >= model_->bytes.size() || !model_->bytes[id])
    throw TokenizerError(model_->source, "token id " + std::to_string(id) +
                                             (id >= model_->bytes.size()
                                                  ? " is outside the vocabulary of " + std::to_string(model_->bytes.size())
                                                  : std::string(" has no token in the vocabulary")) +
                                             ": were the ids made with another tokenizer?");
  return *model_->bytes[id];
}

std::string Tokenizer::decode(std::span<const uint32_t> ids) const {
  std::string text;
  for (uint32_t id : ids) text += decode_token(id);
  return text;
}

}  // namespace tandem::text
