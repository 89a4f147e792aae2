// SignalWatcher (tandem/train.hpp): SIGINT, SIGTERM, SIGHUP and SIGPIPE received by one thread with
// sigtimedwait instead of a handler, so that no global state is needed and the reaction (set the
// run's stop request, or end the process) runs as ordinary code. The signals are blocked in the
// constructing thread and so in every thread started after it; a blocked signal stays pending until
// the watcher takes it.
//
// The watcher must never block itself, whatever the other threads are stuck in (a write to a full
// pipe, an open on a slow filesystem): that is what lets a second signal end the run at once. So its
// messages go out only when stderr can take them without waiting (poll), and are dropped otherwise.
//
// SIGPIPE that a write raises is sent to the writing thread, not to the process, so the watcher never
// sees it (with the signal blocked, the write just fails with EPIPE). The condition behind it - the
// reader of stdout or stderr has gone, as in `tandem train ... | head -1` - is watched for directly
// instead: a pipe's write end polls POLLERR once its last reader has closed, and the watcher treats
// that as SIGPIPE (finish the step, write a checkpoint, exit 141).
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <string>

#include "tandem/train.hpp"

namespace tandem {

namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&set, signo);
  return set;
}

// Takes a SIGPIPE pending on the calling thread (raised by its own write to a closed pipe), if any.
bool take_own_sigpipe() {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  const timespec now{0, 0};
  bool taken = false;
  while (sigtimedwait(&pipe_only, nullptr, &now) == SIGPIPE) taken = true;
  return taken;
}

// write(2) only (the message must get out even while other threads hold stdio's locks), and only
// when stderr takes it without blocking: a pipe whose reader has stalled would hold this thread,
// and with it every later signal. A pipe that polls writable has a free buffer, and a write of at
// most PIPE_BUF bytes into it does not wait.
void say(const std::string& text) {
  pollfd out{STDERR_FILENO, POLLOUT, 0};
  if (::poll(&out, 1, 0) != 1 || (out.revents & POLLOUT) == 0) return;
  const ssize_t written = ::write(STDERR_FILENO, text.data(), std::min<size_t>(text.size(), PIPE_BUF));
  if (written < 0 && errno == EPIPE) take_own_sigpipe();  // stderr's reader is gone: not a second signal
}

// True if `fd` is a pipe or FIFO whose every reader has closed it.
bool reader_gone(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return false;
  pollfd p{fd, 0, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLERR) != 0;
}

}  // namespace

std::string stop_signal_name(int signo) {
  switch (signo) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGPIPE: return "SIGPIPE";
    default: return "signal " + std::to_string(signo);
  }
}

SignalWatcher::SignalWatcher(StopRequest& stop) : stop_(stop), old_mask_(new sigset_t) {
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, static_cast<sigset_t*>(old_mask_));
  watcher_ = std::thread([this] {
    const sigset_t watched = stop_signals();
    auto stop_or_exit = [this](int signo, const std::string& what) {
      const std::string name = stop_signal_name(signo);
      if (stop_.requested()) {
        say("tandem: second " + name + ": exiting now without a checkpoint\n");
        ::_exit(128 + signo);
      }
      stop_.request(signo);
      say("tandem: " + what + ": finishing the current step and writing a checkpoint (send a signal again to "
          "exit at once)\n");
    };
    bool output_closed = false;  // reported once: a closed pipe stays closed
    // Woken every 100 ms to see whether the run is over (sigtimedwait has no other way to be told)
    // and whether stdout's or stderr's reader has gone.
    const timespec tick{0, 100'000'000};
    while (!done_.load()) {
      siginfo_t info;
      const int signo = sigtimedwait(&watched, &info, &tick);
      if (signo > 0) {
        if (signo == SIGPIPE) pipe_seen_.store(true);
        stop_or_exit(signo, stop_signal_name(signo) + " received");
        continue;
      }
      if (output_closed) continue;
      for (const auto& [fd, name] : {std::pair{STDOUT_FILENO, "stdout"}, std::pair{STDERR_FILENO, "stderr"}})
        if (!output_closed && reader_gone(fd)) {
          output_closed = true;
          pipe_seen_.store(true);
          if (!stop_.requested()) stop_or_exit(SIGPIPE, std::string("SIGPIPE: the reader of ") + name + " has gone");
        }
    }
  });
}

SignalWatcher::~SignalWatcher() {
  done_.store(true);
  watcher_.join();
  // A write of this thread to a closed pipe left a SIGPIPE pending on it; once the mask is restored
  // it would kill the process on its way out (and the same for the writes still to come, such as
  // stdio's flush at exit). The run has already stopped for it: from here on the writes just fail.
  if (take_own_sigpipe() || pipe_seen_.load()) ::signal(SIGPIPE, SIG_IGN);
  pthread_sigmask(SIG_SETMASK, static_cast<sigset_t*>(old_mask_), nullptr);
  delete static_cast<sigset_t*>(old_mask_);
}

}  // namespace tandem
