// Temporary file + fsync + rename + directory fsync (see atomic_file.hpp for why each step).
#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace tandem::io {

WriteError::WriteError(std::filesystem::path path, std::string reason)
    : std::runtime_error(path.string() + ": " + reason), path_(std::move(path)), reason_(std::move(reason)) {}

std::filesystem::path temporary_path_for(const std::filesystem::path& path) {
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid());
  return tmp;
}

namespace {

std::string errno_text(int err) { return std::generic_category().message(err); }

class FdSink final : public FileSink {
 public:
  FdSink(int fd, const std::filesystem::path& target, const std::filesystem::path& tmp)
      : fd_(fd), target_(target), tmp_(tmp) {}
  void write(const void* data, size_t size) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = ::write(fd_, p, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw WriteError(target_, "cannot write " + tmp_.filename().string() + ": " + errno_text(errno));
      }
      p += n;
      size -= static_cast<size_t>(n);
    }
  }

 private:
  int fd_;
  const std::filesystem::path& target_;
  const std::filesystem::path& tmp_;
};

// Closes the descriptor and removes the temporary file unless released: every failure path cleans up.
class TemporaryFile {
 public:
  TemporaryFile(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!renamed_) ::unlink(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  int fd() const { return fd_; }
  // close(2) reports delayed write errors (NFS, quota), so it is checked, once.
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }
  void mark_renamed() { renamed_ = true; }

 private:
  int fd_;
  std::filesystem::path path_;
  bool renamed_ = false;
};

void fsync_directory(const std::filesystem::path& target) {
  std::filesystem::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw WriteError(target, "renamed, but cannot open its directory to flush it: " + errno_text(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot fsync a directory (EINVAL); the rename is then as durable as they allow.
  if (rc != 0 && err != EINVAL && err != ENOTSUP)
    throw WriteError(target, "renamed, but flushing its directory failed: " + errno_text(err));
}

}  // namespace

void write_atomically(const std::filesystem::path& path, const std::function<void(FileSink&)>& produce) {
  const std::filesystem::path tmp = temporary_path_for(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw WriteError(path, "cannot create the temporary file " + tmp.string() + ": " + errno_text(errno));
  TemporaryFile file(fd, tmp);

  FdSink sink(file.fd(), path, tmp);
  produce(sink);

  if (::fsync(file.fd()) != 0)
    throw WriteError(path, "cannot flush " + tmp.filename().string() + " to disk: " + errno_text(errno));
  if (file.close() != 0)
    throw WriteError(path, "cannot close " + tmp.filename().string() + ": " + errno_text(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw WriteError(path, "cannot rename " + tmp.filename().string() + " over it: " + errno_text(errno));
  file.mark_renamed();
  fsync_directory(path);
}

}  // namespace tandem::io
