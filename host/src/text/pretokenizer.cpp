// PCRE2 behind the pre-tokenizer (pretokenizer.hpp).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/pretokenizer.hpp"

#include <pcre2.h>

#include "tandem/tokenizer.hpp"

namespace tandem::text {

struct Pretokenizer::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

namespace {

std::string pcre2_message(int error) {
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(error, buffer, sizeof buffer);
  return n < 0 ? "PCRE2 error " + std::to_string(error) : std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

// Match data, freed on every path out.
struct MatchData {
  pcre2_match_data* data;
  explicit MatchData(const pcre2_code* code) : data(pcre2_match_data_create_from_pattern(code, nullptr)) {
    if (data == nullptr) throw std::bad_alloc();
  }
  ~MatchData() { pcre2_match_data_free(data); }
};

}  // namespace

Pretokenizer::Pretokenizer(std::string_view pattern, const std::string& where) : code_(std::make_unique<Code>()) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                              &error, &offset, nullptr);
  if (code_->code == nullptr)
    throw TokenizerError(where, "the pre-tokenizer's regex does not compile at offset " + std::to_string(offset) +
                                    " of \"" + std::string(pattern) + "\": " + pcre2_message(error));
  // JIT makes matching several times faster; where PCRE2 was built without it, the interpreter runs.
  (void)pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);
}

Pretokenizer::~Pretokenizer() = default;

void Pretokenizer::split(std::string_view text, const std::function<void(std::string_view)>& piece) const {
  MatchData match(code_->code);
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t at = 0;      // where the next search starts
  size_t emitted = 0; // text before this has been given out
  while (at < text.size()) {
    const int rc = pcre2_match(code_->code, subject, text.size(), at, PCRE2_NO_UTF_CHECK, match.data, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw TokenizerError("pre-tokenizer", "PCRE2 match failed: " + pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.data);
    const size_t begin = ovector[0], end = ovector[1];
    if (begin > emitted) piece(text.substr(emitted, begin - emitted));
    if (end > begin) {
      piece(text.substr(begin, end - begin));
      emitted = end;
      at = end;
    } else {
      // An empty match (a user's pattern may allow one): step over one character, which then belongs
      // to the gap before the next match.
      emitted = begin;
      at = begin + 1;
      while (at < text.size() && (static_cast<uint8_t>(text[at]) & 0xC0) == 0x80) ++at;
    }
  }
  if (emitted < text.size()) piece(text.substr(emitted));
}

}  // namespace tandem::text
