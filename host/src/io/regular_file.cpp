// RegularFile (regular_file.hpp): open O_NONBLOCK, fstat the descriptor, keep only a regular file.
#include "io/regular_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/human_size.hpp"

namespace tandem::io {

namespace {

std::string os_reason(int err) { return std::strerror(err); }

// The descriptor back to blocking reads and writes: O_NONBLOCK was for the open only (it has no
// effect on a regular file's I/O on Linux, but a file on some filesystems may honour it).
void clear_nonblock(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

// fstat on the open descriptor; FileRefusal (the descriptor closed) unless it is a regular file.
struct stat regular_or_refuse(int fd, const std::filesystem::path& path, const std::string& use) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw FileRefusal(path, FileRefusal::Why::os_error, "cannot stat: " + os_reason(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw FileRefusal(path, FileRefusal::Why::not_regular, std::string("is ") + file_kind(st.st_mode) + ", not a regular file; " + use);
  }
  return st;
}

}  // namespace

FileRefusal::FileRefusal(std::filesystem::path path, Why why, std::string reason)
    : std::runtime_error(path.string() + ": " + reason), path_(std::move(path)), why_(why), reason_(std::move(reason)) {}

const char* file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISREG(mode)) return "a regular file";
  return "not a regular file";
}

RegularFile RegularFile::open_for_reading(const std::filesystem::path& path, uint64_t max_bytes,
                                          const std::string& limit_what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) throw FileRefusal(path, FileRefusal::Why::missing, "no such file");
    throw FileRefusal(path, FileRefusal::Why::os_error, "cannot open: " + os_reason(err));
  }
  const struct stat st = regular_or_refuse(fd, path, "tandem reads only regular files");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    ::close(fd);
    throw FileRefusal(path, FileRefusal::Why::too_large, "is " + human_size(size) + " (" + std::to_string(size) + " bytes), over the " +
                                human_size(max_bytes) + " that " + limit_what + " may be; nothing was read");
  }
  clear_nonblock(fd);
  return RegularFile(path, fd, size, max_bytes);
}

RegularFile RegularFile::open_for_appending(const std::filesystem::path& path) {
  // O_NONBLOCK: a FIFO with no reader fails with ENXIO instead of blocking; O_NOFOLLOW: a link is
  // refused, not written through.
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    struct stat st {};
    if ((err == ENXIO || err == ELOOP) && ::lstat(path.c_str(), &st) == 0)
      throw FileRefusal(path, FileRefusal::Why::not_regular, std::string("is ") + file_kind(st.st_mode) + ", not a regular file");
    throw FileRefusal(path, FileRefusal::Why::os_error, "cannot open for writing: " + os_reason(err));
  }
  const struct stat st = regular_or_refuse(fd, path, "it must be a regular file");
  clear_nonblock(fd);
  return RegularFile(path, fd, static_cast<uint64_t>(st.st_size), std::numeric_limits<uint64_t>::max());
}

RegularFile::RegularFile(RegularFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(other.fd_), size_(other.size_), max_bytes_(other.max_bytes_) {
  other.fd_ = -1;
}

RegularFile& RegularFile::operator=(RegularFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    size_ = other.size_;
    max_bytes_ = other.max_bytes_;
    other.fd_ = -1;
  }
  return *this;
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string RegularFile::read_all() const {
  std::string text;
  text.reserve(static_cast<size_t>(size_));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd_, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw FileRefusal(path_, FileRefusal::Why::os_error, "read error: " + os_reason(errno));
    if (got == 0) return text;
    if (text.size() + static_cast<size_t>(got) > max_bytes_)
      throw FileRefusal(path_, FileRefusal::Why::too_large, "grew past " + human_size(max_bytes_) + " while being read");
    text.append(buffer, static_cast<size_t>(got));
  }
}

bool RegularFile::write_all(const std::string& text) const {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) {
      errno = EIO;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace tandem::io
