// Writing a file so that a crash never leaves half of it: the bytes go to a temporary name beside the
// target, which is flushed to disk and renamed over the target; then the directory is flushed so the
// rename itself survives a power loss. rename(2) within one directory is atomic, so the target holds
// either its old content or the complete new one. Used for checkpoints (safetensors), token files and
// the cached corpus text.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

namespace tandem::io {

// An I/O failure while writing `path`; reason() is the part after the path (no path in it), so that
// callers can rewrap it in their own error type.
class WriteError : public std::runtime_error {
 public:
  WriteError(std::filesystem::path path, std::string reason);
  const std::filesystem::path& path() const { return path_; }
  const std::string& reason() const { return reason_; }

 private:
  std::filesystem::path path_;
  std::string reason_;
};

// Receives the file's bytes in order.
class FileSink {
 public:
  virtual ~FileSink() = default;
  virtual void write(const void* data, size_t size) = 0;
};

// "<path>.tmp-<pid>". One process must not write the same path from two threads at once.
std::filesystem::path temporary_path_for(const std::filesystem::path& path);

// Creates the temporary file, lets `produce` write into it, fsyncs and closes it, renames it over
// `path` and fsyncs the directory. On any failure (including an exception from `produce`, which is
// rethrown as is) the temporary file is removed and `path` is left untouched. I/O failures throw
// WriteError naming the step and errno's text.
void write_atomically(const std::filesystem::path& path, const std::function<void(FileSink&)>& produce);

}  // namespace tandem::io
