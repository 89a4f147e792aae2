// `tandem tokenize`: a text file to llm.c token files with a tokenizer (tandem/data.hpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <system_error>

#include "io/output_path.hpp"
#include "io/regular_file.hpp"
#include "tandem/data.hpp"
#include "tandem/tokenizer.hpp"
#include "text/byte_level.hpp"

namespace tandem::data {

namespace {

namespace fs = std::filesystem;

std::string read_input(const fs::path& input) {
  try {
    std::string text = io::RegularFile::open_for_reading(input).read_all();
    if (text.empty()) throw DataError(input.string(), "empty file (0 bytes): nothing to tokenize");
    return text;
  } catch (const io::FileRefusal& e) {
    throw DataError(input.string(), e.why() == io::FileRefusal::Why::missing ? "no such file" : e.reason());
  }
}

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);  // false (and ec set) when either does not exist
}

// Refused before any work: an output that is the input (even with --force: the text would be lost),
// one that exists without --force, one that is not a regular file.
void check_output(const fs::path& output, const TokenizeRequest& r) {
  if (same_file(output, r.input))
    throw DataError(output.string(), "is the input file: writing tokens there would lose the text; name another output");
  io::check_output_path(output, r.force, "output", "--force");
}

std::string utf8_error(const std::string& text, size_t offset) {
  const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
  const size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  const size_t column = offset - (line_start == std::string::npos || offset == 0 ? 0 : line_start + 1) + 1;
  return "not UTF-8: byte " + std::to_string(static_cast<uint8_t>(text[offset])) + " at offset " + std::to_string(offset) +
         " (line " + std::to_string(line) + ", byte " + std::to_string(column) +
         " of the line) does not begin a valid UTF-8 sequence; convert the file (e.g. iconv -f LATIN1 -t UTF-8), or "
         "tokenize it byte-level (no --tokenizer)";
}

std::vector<uint16_t> to_u16(std::span<const uint32_t> ids) { return std::vector<uint16_t>(ids.begin(), ids.end()); }

}  // namespace

fs::path val_output_for(const fs::path& output) {
  std::string stem = output.stem().string();
  if (stem.size() > 6 && stem.ends_with("_train")) stem.resize(stem.size() - 6);
  return output.parent_path() / (stem + "_val" + output.extension().string());
}

TokenizeResult tokenize_text_file(const TokenizeRequest& r) {
  if (!(r.val_fraction >= 0.0 && r.val_fraction < 1.0))
    throw DataError("", "the validation fraction must be in [0, 1), got " + std::to_string(r.val_fraction));
  TokenizeResult result;
  result.output = r.output;
  if (r.val_fraction > 0) result.val_output = val_output_for(r.output);
  check_output(result.output, r);
  if (!result.val_output.empty()) check_output(result.val_output, r);
  const std::string text = read_input(r.input);
  result.input_bytes = text.size();

  std::vector<uint32_t> ids;
  const auto t0 = std::chrono::steady_clock::now();
  if (r.tokenizer.empty()) {
    result.tokenizer = "bytes";
    result.vocab_size = kByteVocab;
    ids.assign(reinterpret_cast<const uint8_t*>(text.data()), reinterpret_cast<const uint8_t*>(text.data()) + text.size());
  } else {
    const text::Tokenizer tokenizer = text::Tokenizer::load(r.tokenizer);
    result.tokenizer = tokenizer.source();
    result.vocab_size = tokenizer.vocab_size();
    if (tokenizer.vocab_size() > 65536)
      throw DataError(tokenizer.source(), "a vocabulary of " + std::to_string(tokenizer.vocab_size()) +
                                              " tokens: llm.c's token files hold uint16 ids (below 65536), and the "
                                              "uint32 layout is not written yet");
    if (const std::optional<size_t> bad = text::first_invalid_utf8(text)) throw DataError(r.input.string(), utf8_error(text, *bad));
    // One document: its boundary token first, as llm.c's data scripts begin each document.
    if (const std::optional<uint32_t> eot = tokenizer.end_of_text()) ids.push_back(*eot);
    const std::vector<uint32_t> body = tokenizer.encode(text);
    ids.insert(ids.end(), body.begin(), body.end());
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const uint64_t n = ids.size();
  const uint64_t held_out = static_cast<uint64_t>(std::floor(static_cast<double>(n) * r.val_fraction));
  if (r.val_fraction > 0 && (held_out == 0 || held_out == n))
    throw DataError(r.input.string(), std::to_string(n) + " tokens: a validation fraction of " + std::to_string(r.val_fraction) +
                                          " leaves " + (held_out == 0 ? "the validation" : "the training") +
                                          " file empty; use more text or another fraction");
  result.train_tokens = n - held_out;
  result.val_tokens = held_out;
  const std::span<const uint32_t> all(ids);
  write_llmc_tokens(result.output, to_u16(all.first(static_cast<size_t>(result.train_tokens))));
  if (held_out > 0) write_llmc_tokens(result.val_output, to_u16(all.subspan(static_cast<size_t>(result.train_tokens))));
  return result;
}

}  // namespace tandem::data
