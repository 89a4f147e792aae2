// Opening the files a user names (configs, run files, data, weights, metrics) so that nothing that is
// not a regular file can stall or feed a run: a FIFO with no writer would block open(2) forever, a
// FIFO or /dev/zero read with no end, /dev/null read as an empty config. Each open is O_NONBLOCK (a
// FIFO then opens at once, or fails with ENXIO for writing) and the file is then checked with fstat
// on the descriptor itself, so that a path swapped between a stat and the open is caught too; only a
// regular file is kept, and its descriptor is put back to blocking mode.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>

namespace tandem::io {

// A file that cannot be used as the input or output it was named as; reason() is the part after the
// path ("is a FIFO, not a regular file"), so that callers can rewrap it in their own error type.
class FileRefusal : public std::runtime_error {
 public:
  // not_regular and too_large are the user's input; os_error is the system's (permissions, I/O).
  enum class Why { missing, not_regular, too_large, os_error };
  FileRefusal(std::filesystem::path path, Why why, std::string reason);
  const std::filesystem::path& path() const { return path_; }
  Why why() const { return why_; }
  const std::string& reason() const { return reason_; }

 private:
  std::filesystem::path path_;
  Why why_;
  std::string reason_;
};

// "a FIFO", "a character device", "a directory", ... for an st_mode.
const char* file_kind(mode_t mode);

// An open regular file; closes on destruction.
class RegularFile {
 public:
  // Opens `path` for reading. FileRefusal: no such file, cannot open (errno), not a regular file
  // (named by kind), or larger than `max_bytes` ("is 65.0 MiB (68157440 bytes), over the 64 MiB
  // that <limit_what> may be"), checked before a byte is read.
  static RegularFile open_for_reading(const std::filesystem::path& path,
                                      uint64_t max_bytes = std::numeric_limits<uint64_t>::max(),
                                      const std::string& limit_what = "a file tandem reads");
  // Opens `path` for appending, creating it (0644) if absent; never follows a symbolic link.
  // FileRefusal for anything but a regular file, or when it cannot be opened (errno).
  static RegularFile open_for_appending(const std::filesystem::path& path);

  RegularFile(RegularFile&& other) noexcept;
  RegularFile& operator=(RegularFile&& other) noexcept;
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  ~RegularFile();

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }  // at open
  // The whole file (reading stops with a FileRefusal if it grew past the open's max_bytes meanwhile).
  std::string read_all() const;
  // Writes all of `text` (retrying short writes); false with errno set when the write failed.
  bool write_all(const std::string& text) const;

 private:
  RegularFile(std::filesystem::path path, int fd, uint64_t size, uint64_t max_bytes)
      : path_(std::move(path)), fd_(fd), size_(size), max_bytes_(max_bytes) {}
  std::filesystem::path path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t max_bytes_ = 0;
};

}  // namespace tandem::io
