// GPT-2's bytes_to_unicode() and UTF-8 helpers (byte_level.hpp).
#include "text/byte_level.hpp"

#include <array>

namespace tandem::text {

namespace {

bool is_own_char(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 0x144> to_byte{};  // every character of the table is below U+0144
  Tables() {
    to_byte.fill(-1);
    unsigned next = 0x100;
    for (unsigned b = 0; b < 256; ++b) {
      to_char[b] = is_own_char(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(next++);
      to_byte[to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

// Constant after construction (a function-local static: built once, thread-safe).
const Tables& tables() {
  static const Tables t;
  return t;
}

// Decodes one well-formed UTF-8 sequence at s[i]; its length, or 0 when it is not one.
size_t utf8_sequence(std::string_view s, size_t i, char32_t* out) {
  const auto at = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = at(i);
  if (b0 < 0x80) {
    *out = b0;
    return 1;
  }
  size_t len;
  char32_t c;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) len = 2, c = b0 & 0x1F, min = 0x80;
  else if ((b0 & 0xF0) == 0xE0) len = 3, c = b0 & 0x0F, min = 0x800;
  else if ((b0 & 0xF8) == 0xF0) len = 4, c = b0 & 0x07, min = 0x10000;
  else return 0;
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((at(i + k) & 0xC0) != 0x80) return 0;
    c = (c << 6) | (at(i + k) & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *out = c;
  return len;
}

}  // namespace

char32_t byte_to_char(uint8_t b) { return tables().to_char[b]; }

std::optional<uint8_t> char_to_byte(char32_t c) {
  if (c >= tables().to_byte.size() || tables().to_byte[c] < 0) return std::nullopt;
  return static_cast<uint8_t>(tables().to_byte[c]);
}

std::optional<std::string> chars_to_bytes(std::string_view token, char32_t* bad_char) {
  std::string bytes;
  bytes.reserve(token.size());
  for (size_t i = 0; i < token.size();) {
    char32_t c = 0;
    const size_t len = utf8_sequence(token, i, &c);
    if (len == 0) {
      if (bad_char) *bad_char = 0xFFFD;
      return std::nullopt;
    }
    const std::optional<uint8_t> b = char_to_byte(c);
    if (!b) {
      if (bad_char) *bad_char = c;
      return std::nullopt;
    }
    bytes.push_back(static_cast<char>(*b));
    i += len;
  }
  return bytes;
}

std::string bytes_to_chars(std::string_view bytes) {
  std::string out;
  for (char b : bytes) append_utf8(out, byte_to_char(static_cast<uint8_t>(b)));
  return out;
}

std::optional<size_t> first_invalid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t c;
    const size_t len = utf8_sequence(s, i, &c);
    if (len == 0) return i;
    i += len;
  }
  return std::nullopt;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

}  // namespace tandem::text
