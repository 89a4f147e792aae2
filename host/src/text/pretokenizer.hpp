// The pre-tokenizer: cuts text into the pieces BPE merges within (never across), by a regex run
// through PCRE2 in UTF mode with Unicode properties (PCRE2_UCP: \s, \p{L}, \p{N} as Unicode defines
// them, not hand-written classes). Matches are pieces, and so is any text between two matches
// (Hugging Face's "Isolated" split behaviour; GPT-2's pattern leaves no such gaps).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace tandem::text {

// GPT-2's pattern (openai/gpt-2 src/encoder.py), which Hugging Face's ByteLevel pre-tokenizer uses too.
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class Pretokenizer {
 public:
  // Compiles `pattern` (JIT where PCRE2 has it). A pattern that does not compile is a TokenizerError at
  // `where`, with PCRE2's message and the offset in the pattern.
  Pretokenizer(std::string_view pattern, const std::string& where);
  ~Pretokenizer();
  Pretokenizer(const Pretokenizer&) = delete;
  Pretokenizer& operator=(const Pretokenizer&) = delete;

  // Calls `piece` for each piece of `text`, in order; the pieces concatenate to `text`. `text` must be
  // valid UTF-8 (the caller checks: PCRE2's own check is skipped). Thread-safe.
  void split(std::string_view text, const std::function<void(std::string_view)>& piece) const;

 private:
  struct Code;
  std::unique_ptr<Code> code_;
};

}  // namespace tandem::text
