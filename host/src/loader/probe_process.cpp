// probe_module_files(): runs tandem-module-probe over the files and reads its result lines, with a
// time limit per file; a probe that dies or runs out of time is blamed on the file it had begun.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "loader/module_probe.hpp"

extern char** environ;

namespace tandem::loader {

namespace {

using Clock = std::chrono::steady_clock;

std::string seconds_text(double s) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", s);
  return buffer;
}

std::string signal_text(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  const std::string name = abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal " + std::to_string(sig);
  return name + ", " + ::strsignal(sig);
}

// A descriptor at 10 or above with close-on-exec, so that dup2 onto kProbeResultFd always copies it
// (dup2 of a descriptor onto itself would keep its close-on-exec flag).
int high_fd(int fd) {
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  ::close(fd);
  return moved;
}

// One run of the probe program over files[first...]. Fills `out` for each file it reports on, and for
// the file it dies on or runs out of time in; returns the index to go on from.
size_t run_probe(const std::vector<std::filesystem::path>& files, size_t first, const std::filesystem::path& probe,
                 double timeout_seconds, std::vector<ProbeOutcome>& out) {
  auto fail_rest = [&](const std::string& why) {
    for (size_t i = first; i < files.size(); ++i) out[i].refusal = why;
    return files.size();
  };
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail_rest(std::string("cannot start the module probe: pipe: ") + std::strerror(errno));
  const int read_end = high_fd(fds[0]), write_end = high_fd(fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end, kProbeResultFd);
  // Nothing else of this process's: a probe left hanging until its time limit must not hold, say, the
  // descriptor of a run's checkpoint lock (flock) or a socket.
  posix_spawn_file_actions_addclosefrom_np(&actions, kProbeResultFd + 1);
  // The probe starts with no blocked signal and default actions, whatever this process set up (the
  // CLI blocks SIGINT/SIGTERM for its signal watcher): Ctrl-C stops it as it stops any child.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> args{probe.string()};
  for (size_t i = first; i < files.size(); ++i) args.push_back(std::filesystem::absolute(files[i]).string());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, probe.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(write_end);
  if (spawned != 0) {
    ::close(read_end);
    return fail_rest("cannot start the module probe '" + probe.string() + "': " + std::strerror(spawned) +
                     "; it is installed with tandem, beside libtandem (lib/tandem/tandem-module-probe): reinstall tandem");
  }

  const auto limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_seconds));
  size_t next = first;                      // the first file without an outcome yet
  std::optional<size_t> loading;            // the file the probe said it began and has not finished
  Clock::time_point deadline = Clock::now() + limit;
  std::string pending;
  bool timed_out = false;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{read_end, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;  // the deadline check above ends it
    const ssize_t n = ::read(read_end, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the probe ended (or closed its end)
    pending.append(buffer, static_cast<size_t>(n));
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
      ProbeEvent event;
      size_t index = 0;
      ProbeOutcome outcome;
      if (!decode_line(pending.substr(0, nl), event, index, outcome) || first + index >= files.size()) continue;
      index += first;
      if (event == ProbeEvent::begin) {
        loading = index;
      } else {
        out[index] = std::move(outcome);
        loading.reset();
        next = index + 1;
      }
      deadline = Clock::now() + limit;  // each file has the whole limit
    }
  }
  ::close(read_end);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  pid_t waited;
  do waited = ::waitpid(pid, &status, 0);
  while (waited < 0 && errno == EINTR);

  if (next >= files.size()) return next;
  // The probe stopped short: blame the file it was loading (or, if it died before beginning one, the
  // next file, so that the scan always moves on).
  const size_t culprit = loading.value_or(next);
  ProbeOutcome& o = out[culprit];
  o.died = true;
  if (timed_out) {
    o.refusal = "did not finish loading within " + seconds_text(timeout_seconds) +
                " s (TANDEM_MODULE_LOAD_TIMEOUT sets the limit): its initialisation hangs or loops; the probe "
                "process loading it was killed";
  } else if (waited == pid && WIFSIGNALED(status)) {
    o.refusal = "loading it killed the probe process (" + signal_text(WTERMSIG(status)) +
                "): the module's initialisation (its static constructors) crashed";
  } else if (waited == pid && WIFEXITED(status)) {
    o.refusal = "loading it ended the probe process with exit status " + std::to_string(WEXITSTATUS(status)) +
                ": the module's initialisation (its static constructors) called exit";
  } else {
    o.refusal = "the probe process loading it ended without a result (its exit status is unknown)";
  }
  if (!loading) o.refusal += " (before it began this file)";
  return culprit + 1;
}

}  // namespace

double module_load_timeout_seconds() {
  const char* text = std::getenv("TANDEM_MODULE_LOAD_TIMEOUT");
  if (text == nullptr || *text == '\0') return kDefaultLoadTimeoutSeconds;
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !std::isfinite(value) || value <= 0 || value > 3600)
    throw ModuleError("TANDEM_MODULE_LOAD_TIMEOUT='" + std::string(text) +
                      "' is not a number of seconds in (0, 3600]: it limits how long one module file may take to "
                      "load (default " + seconds_text(kDefaultLoadTimeoutSeconds) + ")");
  return value;
}

std::vector<ProbeOutcome> probe_module_files(const std::vector<std::filesystem::path>& files,
                                             const std::filesystem::path& probe, double timeout_seconds) {
  std::vector<ProbeOutcome> out(files.size());
  for (size_t next = 0; next < files.size();) next = run_probe(files, next, probe, timeout_seconds, out);
  return out;
}

}  // namespace tandem::loader
