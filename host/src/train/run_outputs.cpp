// RunOutputs: the checks in the order a user would want to hear of them - what the paths are, who else
// is using the directory, whether it can be written, and only then what is already in it.
#include "train/run_outputs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "io/output_path.hpp"
#include "runtime/launch_env.hpp"
#include "tandem/train.hpp"
#include "train/checkpoint_dir.hpp"

namespace tandem {

namespace {

namespace fs = std::filesystem;

std::string os_reason() { return std::strerror(errno); }

// The newest step a directory's checkpoints name, or -1 when it holds none (absent, or empty of them).
int64_t newest_step(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return -1;
  int64_t newest = fs::exists(dir / "latest", ec) ? 0 : -1;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec))
    if (const std::optional<int64_t> step = checkpoint_step(e.path())) newest = std::max(newest, *step);
  return newest;
}

void check_metrics(const fs::path& metrics, bool resume, bool overwrite, const std::string& source) {
  // A resumed run appends to (and first truncates) the metrics its own run wrote.
  io::check_output_path(metrics, resume || overwrite, source + ": metrics",
                        "--resume continues its run, --overwrite");
}

}  // namespace

void refuse_cpu_run_of_several_processes(RunDevice device, int64_t ranks, const std::string& source) {
  if (device == RunDevice::cuda) return;
  LaunchEnv env;
  try {
    env = read_launch_env();
  } catch (const std::invalid_argument&) {
    return;  // variables that do not make a world: a CPU run does not use them
  }
  if (env.world_size <= 1) return;
  throw std::invalid_argument(source + ": started as rank " + std::to_string(env.rank) + " of " +
                              std::to_string(env.world_size) + " processes (" +
                              (env.rank_from.empty() ? std::string("WORLD_SIZE") : env.rank_from) +
                              " and its kin are set), but this is a CPU run: its " + std::to_string(ranks) +
                              " ranks are threads of one process (\"ranks\"), and several processes would each "
                              "train it and write the same checkpoint_dir and metrics. Run it without `tandem "
                              "launch` (raise \"ranks\" for more thread-ranks), or set \"device\": \"cuda\"");
}

RunOutputs::RunOutputs(const RunOutputPaths& paths, bool resume, bool overwrite, const std::string& source) {
  if (!paths.metrics.empty()) check_metrics(paths.metrics, resume, overwrite, source);
  if (paths.lock_dir.empty()) return;
  const fs::path& dir = paths.lock_dir;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))  // a symlink to a directory is one
    throw CheckpointWriteError(source + ": cannot use checkpoint_dir " + dir.string() + ": it is " +
                               io::irregular_kind(dir).value_or("a regular file") + ", not a directory");
  fs::create_directories(dir, ec);
  if (ec) throw CheckpointWriteError(source + ": cannot use checkpoint_dir " + dir.string() + ": " + ec.message());

  // One run a directory: a second would remove the first's partial checkpoints and race its renames.
  const fs::path lock = dir / ".lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0)
    throw CheckpointWriteError(source + ": cannot use checkpoint_dir " + dir.string() + ": " + os_reason());
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int why = errno;
    char pid[32] = {};
    const ssize_t n = ::pread(lock_fd_, pid, sizeof pid - 1, 0);
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (why == EWOULDBLOCK)
      throw std::invalid_argument(source + ": checkpoint_dir " + dir.string() + " is in use by another run (pid " +
                                  (n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string("unknown")) +
                                  "): wait for it to end, or set another checkpoint_dir");
    throw CheckpointWriteError(source + ": cannot lock checkpoint_dir " + dir.string() + ": " + std::strerror(why));
  }
  const std::string me = std::to_string(::getpid());
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size()))
    throw CheckpointWriteError(source + ": cannot write checkpoint_dir " + dir.string() + ": " + os_reason());

  // Writable now, not at the first checkpoint many steps later.
  const fs::path probe = dir / (".write-check-" + me);
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 || ::write(fd, "x", 1) != 1) {
    const std::string reason = os_reason();
    if (fd >= 0) ::close(fd);
    ::unlink(probe.c_str());
    throw CheckpointWriteError(source + ": cannot write checkpoint_dir " + dir.string() + ": " + reason);
  }
  ::close(fd);
  ::unlink(probe.c_str());

  if (resume || overwrite) return;
  for (const fs::path& d : paths.checkpoint_dirs)
    if (const int64_t step = newest_step(d); step >= 0)
      throw std::invalid_argument(source + ": checkpoint_dir " + d.string() + " already holds a run" +
                                  (step > 0 ? " (its newest checkpoint is of step " + std::to_string(step) + ")" : "") +
                                  ": --resume continues it, --overwrite starts over in it, or set another "
                                  "checkpoint_dir");
}

RunOutputs::~RunOutputs() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock; the file stays, naming the last owner
}

}  // namespace tandem
