// Byte-level BPE's alphabet: GPT-2's bytes_to_unicode(), which gives each of the 256 byte values a
// printable character, so that every token of the vocabulary is a string of printable characters
// (encoder.json, vocab.bpe and tokenizer.json store them so). Bytes 0x21-0x7E, 0xA1-0xAC and
// 0xAE-0xFF are their own code point; the other 68 take U+0100, U+0101, ... in byte order.
// Plus the UTF-8 helpers the tokenizer needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::text {

// The code point bytes_to_unicode() assigns to byte b.
char32_t byte_to_char(uint8_t b);
// The byte whose character is c; none for a character outside the 256.
std::optional<uint8_t> char_to_byte(char32_t c);

// A vocabulary string (UTF-8 of byte-level characters) as the bytes it stands for; none when it holds
// a character that is not one of the 256 (its offset in *bad_char when given).
std::optional<std::string> chars_to_bytes(std::string_view token, char32_t* bad_char = nullptr);
// The inverse: bytes as their byte-level characters, UTF-8 encoded (for messages).
std::string bytes_to_chars(std::string_view bytes);

// The offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF); none when all of `s` is UTF-8.
std::optional<size_t> first_invalid_utf8(std::string_view s);

void append_utf8(std::string& out, char32_t c);

}  // namespace tandem::text
