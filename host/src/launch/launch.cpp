// tandem launch (tandem/launch.hpp): fork and exec per local rank, then one loop that waits for
// SIGCHLD, SIGINT and SIGTERM with sigtimedwait (they are blocked in the launcher, unblocked in the
// children), reaps, forwards and escalates. A child reports an exec failure through a close-on-exec
// pipe, so "cannot run" is told apart from a program that ran and failed.
#include "tandem/launch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>

namespace tandem {

namespace {

using Clock = std::chrono::steady_clock;

struct Child {
  pid_t pid = -1;
  int32_t rank = 0;
  bool running = false;
  int status = 0;  // waitpid's, once it ended
};

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                  strsignal(WTERMSIG(status)) + ")";
  return "ended with wait status " + std::to_string(status);
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// In the child: the environment, the signal mask back to normal, exec; on failure errno to `report`.
[[noreturn]] void run_child(const LaunchOptions& options, int32_t local_rank, const std::vector<std::string>& command,
                            int report) {
  for (const auto& [name, value] : launch_environment(options, local_rank)) ::setenv(name.c_str(), value.c_str(), 1);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  std::vector<char*> argv;
  for (const std::string& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  const int e = errno;
  (void)!::write(report, &e, sizeof e);
  ::_exit(127);
}

}  // namespace

void check_launch_options(const LaunchOptions& o) {
  if (o.nproc_per_node < 1 || o.nproc_per_node > 1024)
    throw std::invalid_argument("--nproc-per-node " + std::to_string(o.nproc_per_node) + ": 1 to 1024 processes");
  if (o.nnodes < 1) throw std::invalid_argument("--nnodes " + std::to_string(o.nnodes) + ": at least 1 node");
  if (o.node_rank < 0 || o.node_rank >= o.nnodes)
    throw std::invalid_argument("--node-rank " + std::to_string(o.node_rank) + " is not a node of " +
                                std::to_string(o.nnodes) + " (0.." + std::to_string(o.nnodes - 1) + ")");
  if (o.master_port < 1 || o.master_port > 65535)
    throw std::invalid_argument("--master-port " + std::to_string(o.master_port) + ": 1 to 65535");
  if (o.nnodes > 1 && !o.master_addr_given)
    throw std::invalid_argument("--master-addr is needed with " + std::to_string(o.nnodes) +
                                " nodes: the address of node 0, where rank 0 listens");
  if (o.grace.count() < 0) throw std::invalid_argument("the grace period is negative");
}

std::vector<std::pair<std::string, std::string>> launch_environment(const LaunchOptions& o, int32_t local_rank) {
  const int32_t rank = o.node_rank * o.nproc_per_node + local_rank;
  return {{"RANK", std::to_string(rank)},
          {"WORLD_SIZE", std::to_string(o.nnodes * o.nproc_per_node)},
          {"LOCAL_RANK", std::to_string(local_rank)},
          {"LOCAL_WORLD_SIZE", std::to_string(o.nproc_per_node)},
          {"GROUP_RANK", std::to_string(o.node_rank)},
          {"MASTER_ADDR", o.master_addr},
          {"MASTER_PORT", std::to_string(o.master_port)},
          {"NCCL_NVLS_ENABLE", "0"},
          {"TORCH_SYMM_MEM_DISABLE_MULTICAST", "1"},
          {"NVSHMEM_DISABLE_NVLS", "1"}};
}

int launch(const LaunchOptions& options, const std::vector<std::string>& command) {
  check_launch_options(options);
  if (command.empty()) throw std::invalid_argument("no command to launch (tandem launch [options] -- COMMAND ...)");

  sigset_t watched, previous;
  sigemptyset(&watched);
  sigaddset(&watched, SIGCHLD);
  sigaddset(&watched, SIGINT);
  sigaddset(&watched, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &watched, &previous);

  std::vector<Child> children(static_cast<size_t>(options.nproc_per_node));
  int result = 0;
  std::string failure;
  for (int32_t i = 0; i < options.nproc_per_node; ++i) {
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) run_child(options, i, command, report[1]);
    ::close(report[1]);
    int e = 0;
    const bool exec_failed = ::read(report[0], &e, sizeof e) == static_cast<ssize_t>(sizeof e);
    ::close(report[0]);
    Child& c = children[static_cast<size_t>(i)];
    c.pid = pid;
    c.rank = options.node_rank * options.nproc_per_node + i;
    c.running = true;
    if (exec_failed && failure.empty()) {
      failure = "rank " + std::to_string(c.rank) + ": cannot run '" + command.front() + "': " + std::strerror(e);
      result = 127;
      break;  // the command is the same for every rank: start no more
    }
  }

  // Kills the ranks still running: SIGTERM now, SIGKILL once the grace period is over.
  auto stop_others = [&](int signal) {
    for (const Child& c : children)
      if (c.running) ::kill(c.pid, signal);
  };
  bool stopping = !failure.empty(), forwarded = false;
  Clock::time_point kill_at = Clock::now() + options.grace;
  if (stopping) {
    std::cerr << "tandem launch: " << failure << "; stopping the other ranks\n";
    stop_others(SIGTERM);
  }

  auto running = [&] {
    for (const Child& c : children)
      if (c.running) return true;
    return false;
  };
  while (running()) {
    const timespec tick{0, 100'000'000};  // 100 ms: also the resolution of the grace period
    siginfo_t info{};
    const int got = ::sigtimedwait(&watched, &info, &tick);
    if (got == SIGINT || got == SIGTERM) {
      if (forwarded || stopping) {
        std::cerr << "tandem launch: " << strsignal(got) << " again: killing every rank\n";
        stop_others(SIGKILL);
      } else {
        std::cerr << "tandem launch: " << strsignal(got) << ": passing it to every rank\n";
        stop_others(got);
        forwarded = true;
      }
    }
    // Reap whatever ended (SIGCHLD or not: signals coalesce).
    for (Child& c : children) {
      if (!c.running) continue;
      int status = 0;
      const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
      if (r != c.pid) continue;
      c.running = false;
      c.status = status;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (ok) continue;
      if (forwarded) {  // what the ranks made of the signal (130 / 143 after their checkpoint)
        if (result == 0) result = exit_code_of(status);
      } else if (!stopping) {
        failure = "rank " + std::to_string(c.rank) + " (pid " + std::to_string(c.pid) + ") " + describe(status);
        std::cerr << "tandem launch: " << failure << "; stopping the other ranks\n";
        result = exit_code_of(status);
        stopping = true;
        kill_at = Clock::now() + options.grace;
        stop_others(SIGTERM);
      }
    }
    if (stopping && running() && Clock::now() >= kill_at) {
      std::cerr << "tandem launch: the other ranks did not stop within the grace period: killing them\n";
      stop_others(SIGKILL);
      kill_at = Clock::time_point::max();
    }
  }
  ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  return result;
}

}  // namespace tandem
