// Token files: byte-level text, llm.c's .bin layout and raw uint16 (formats in tandem/data.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "io/atomic_file.hpp"
#include "io/regular_file.hpp"
#include "tandem/data.hpp"

namespace tandem::data {

DataError::DataError(std::string file, std::string reason)
    : std::runtime_error(file.empty() ? reason : file + ": " + reason),
      file_(std::move(file)),
      reason_(std::move(reason)) {}

std::string_view format_name(TokenFormat f) {
  switch (f) {
    case TokenFormat::Auto: return "auto";
    case TokenFormat::Text: return "text";
    case TokenFormat::LlmC: return "llm.c";
    case TokenFormat::Raw: return "raw uint16";
  }
  return "?";
}

namespace {

std::string errno_text(int err) { return std::generic_category().message(err); }

// An open regular file and its size; closes on destruction.
class InputFile {
 public:
  explicit InputFile(const std::filesystem::path& path) : name_(path.string()) {
    // O_NONBLOCK: a FIFO with no writer opens at once (and is refused below) instead of blocking the
    // run forever; the descriptor's own fstat catches a path swapped after an earlier check.
    fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) {
      const int err = errno;
      throw DataError(name_, err == ENOENT ? std::string("no such file") : "cannot open: " + errno_text(err));
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail("cannot stat: " + errno_text(errno));
    if (S_ISDIR(st.st_mode)) fail("is a directory, not a data file");
    if (!S_ISREG(st.st_mode))
      fail(std::string("is ") + io::file_kind(st.st_mode) + ", not a regular file; a data file must be one");
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ == 0) fail("empty file (0 bytes)");
  }
  ~InputFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  const std::string& name() const { return name_; }

  // Reads exactly `n` bytes at `offset`.
  void read(void* dst, size_t n, uint64_t offset) {
    auto* p = static_cast<uint8_t*>(dst);
    size_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail("read error: " + errno_text(errno));
      if (got == 0) fail("file shrank while being read");
      done += static_cast<size_t>(got);
    }
  }

  [[noreturn]] void fail(const std::string& reason) {
    const int fd = fd_;
    fd_ = -1;
    if (fd >= 0) ::close(fd);
    throw DataError(name_, reason);
  }

 private:
  std::string name_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

std::vector<uint16_t> read_text(InputFile& in) {
  std::vector<uint8_t> bytes(static_cast<size_t>(in.size()));
  in.read(bytes.data(), bytes.size(), 0);
  if (const auto nul = std::find(bytes.begin(), bytes.end(), uint8_t{0}); nul != bytes.end())
    in.fail("NUL byte at offset " + std::to_string(nul - bytes.begin()) +
            ": not a text file (token files must be named *.bin, or given their format)");
  return std::vector<uint16_t>(bytes.begin(), bytes.end());
}

std::vector<uint16_t> read_u16(InputFile& in, uint64_t offset, uint64_t count) {
  std::vector<uint16_t> ids(static_cast<size_t>(count));
  in.read(ids.data(), ids.size() * 2, offset);  // little-endian host (static_assert'ed in safetensors)
  return ids;
}

std::vector<uint16_t> read_raw(InputFile& in) {
  if (in.size() % 2 != 0)
    in.fail("odd size (" + std::to_string(in.size()) + " bytes) for a raw uint16 token file: truncated?");
  return read_u16(in, 0, in.size() / 2);
}

int32_t header_field(const uint8_t* header, int index) {
  int32_t v;
  std::memcpy(&v, header + 4 * index, 4);
  return v;
}

std::vector<uint16_t> read_llmc(InputFile& in) {
  if (in.size() < kLlmcHeaderBytes)
    in.fail(std::to_string(in.size()) + " bytes, shorter than the " + std::to_string(kLlmcHeaderBytes) +
            "-byte llm.c header");
  uint8_t header[kLlmcHeaderBytes];
  in.read(header, sizeof header, 0);
  const int32_t magic = header_field(header, 0), version = header_field(header, 1), count = header_field(header, 2);
  if (magic == kLlmcMagicUint32)
    in.fail("llm.c token file with uint32 tokens (magic 20240801, Llama 3): not supported, only uint16 (magic 20240520)");
  if (magic != kLlmcMagic)
    in.fail("not an llm.c token file: magic " + std::to_string(magic) + ", expected " + std::to_string(kLlmcMagic));
  if (version != kLlmcVersion)
    in.fail("llm.c token file version " + std::to_string(version) + ", expected " + std::to_string(kLlmcVersion));
  if (count < 0) in.fail("llm.c header gives a negative token count (" + std::to_string(count) + ")");
  if (count == 0) in.fail("llm.c header says the file holds no tokens");
  const uint64_t expected = kLlmcHeaderBytes + 2 * static_cast<uint64_t>(count);
  if (in.size() != expected)
    in.fail("llm.c header says " + std::to_string(count) + " tokens (" + std::to_string(expected) +
            " bytes with the header), the file has " + std::to_string(in.size()) + " bytes");
  return read_u16(in, kLlmcHeaderBytes, static_cast<uint64_t>(count));
}

bool has_llmc_magic(InputFile& in) {
  if (in.size() < 4) return false;
  uint8_t first[4];
  in.read(first, 4, 0);
  const int32_t magic = header_field(first, 0);
  return magic == kLlmcMagic || magic == kLlmcMagicUint32;
}

}  // namespace

Tokens load_tokens(const std::filesystem::path& path, uint32_t vocab_size, TokenFormat format) {
  InputFile in(path);
  if (format == TokenFormat::Auto) {
    if (path.extension() != ".bin")
      format = TokenFormat::Text;
    else
      format = has_llmc_magic(in) ? TokenFormat::LlmC : TokenFormat::Raw;
  }
  Tokens t;
  t.source = in.name();
  t.format = format;
  switch (format) {
    case TokenFormat::Text: t.ids = read_text(in); break;
    case TokenFormat::LlmC: t.ids = read_llmc(in); break;
    case TokenFormat::Raw: t.ids = read_raw(in); break;
    case TokenFormat::Auto: break;  // resolved above
  }
  if (vocab_size == 0) throw DataError(t.source, "the model's vocabulary size is 0");
  const auto bad = std::find_if(t.ids.begin(), t.ids.end(), [&](uint16_t id) { return id >= vocab_size; });
  if (bad != t.ids.end())
    throw DataError(t.source, "token " + std::to_string(*bad) + " at position " + std::to_string(bad - t.ids.begin()) +
                                  " is outside the model's vocabulary of " + std::to_string(vocab_size) + " (" +
                                  std::string(format_name(format)) + " file)");
  return t;
}

void write_llmc_tokens(const std::filesystem::path& path, std::span<const uint16_t> tokens) {
  if (tokens.empty()) throw DataError(path.string(), "no tokens to write");
  if (tokens.size() > static_cast<size_t>(INT32_MAX))
    throw DataError(path.string(), std::to_string(tokens.size()) + " tokens: more than the llm.c header's int32 count holds");
  int32_t header[kLlmcHeaderBytes / 4] = {};
  header[0] = kLlmcMagic;
  header[1] = kLlmcVersion;
  header[2] = static_cast<int32_t>(tokens.size());
  try {
    io::write_atomically(path, [&](io::FileSink& sink) {
      sink.write(header, sizeof header);
      sink.write(tokens.data(), tokens.size_bytes());
    });
  } catch (const io::WriteError& e) {
    throw DataError(path.string(), e.reason());
  }
}

void text_to_token_file(const std::filesystem::path& text, const std::filesystem::path& bin) {
  const Tokens t = load_tokens(text, kByteVocab, TokenFormat::Text);
  write_llmc_tokens(bin, t.ids);
}

}  // namespace tandem::data
