// The default corpus: the King James Bible, written out once by Debian's `bible` program (bible-kjv)
// from its compressed data (bible-kjv-text). The text is made at run time, not shipped: the examples
// need only `apt-get install bible-kjv bible-kjv-text` and a clean clone.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "io/atomic_file.hpp"
#include "tandem/data.hpp"

extern char** environ;

namespace tandem::data {

namespace {

constexpr std::string_view kFirstVerse = "Ge1:1 In the beginning God created the heaven and the earth.\n";
constexpr std::string_view kLastVerse = "Rev22:21 The grace of our Lord Jesus Christ be with you all. Amen.\n";
const std::string kInstall = "install it with: apt-get install " + std::string(kKjvPackages);

std::string errno_text(int err) { return std::generic_category().message(err); }

bool looks_like_kjv(std::string_view text) { return text.starts_with(kFirstVerse) && text.ends_with(kLastVerse); }

// A cached text is trusted if its first and last verses are right (reads ~130 bytes, not 4.4 MB).
bool cached_text_ok(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  std::string head(kFirstVerse.size(), '\0'), tail(kLastVerse.size(), '\0');
  if (!in.read(head.data(), static_cast<std::streamsize>(head.size()))) return false;
  in.seekg(-static_cast<std::streamoff>(tail.size()), std::ios::end);
  if (!in.read(tail.data(), static_cast<std::streamsize>(tail.size()))) return false;
  return head == kFirstVerse && tail == kLastVerse;
}

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() { close_all(); }
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
  void close_all() {
    close_end(0);
    close_end(1);
  }
};

struct RunResult {
  std::string out, err;
  int status = 0;
};

// Runs `argv` with stdin from /dev/null, collecting stdout and stderr (polled together, so neither
// pipe can fill up and block the child).
RunResult run(const std::string& program, const std::vector<std::string>& args, const std::string& where) {
  Pipe out, err;
  if (::pipe2(out.fd, O_CLOEXEC) != 0 || ::pipe2(err.fd, O_CLOEXEC) != 0)
    throw DataError(where, "cannot create a pipe: " + errno_text(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err.fd[1], 2);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    if (rc == ENOENT)
      throw DataError(where, "the default corpus needs the program '" + program +
                                 "' (the King James Bible of Debian's bible-kjv), which is not installed; " + kInstall);
    throw DataError(where, "cannot run '" + program + "': " + errno_text(rc));
  }
  out.close_end(1);
  err.close_end(1);

  RunResult r;
  pollfd fds[2] = {{out.fd[0], POLLIN, 0}, {err.fd[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_count = 2;
  char buf[65536];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;  // EOF or error: stop polling it (the Pipe closes it)
        --open_count;
      } else {
        sinks[i]->append(buf, static_cast<size_t>(n));
      }
    }
  }
  while (::waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  return r;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "failed";
}

}  // namespace

std::filesystem::path kjv_text(const std::filesystem::path& cache_dir, const std::string& program) {
  const std::filesystem::path target = cache_dir / kKjvFileName;
  if (cached_text_ok(target)) return target;

  std::error_code ec;
  std::filesystem::create_directories(cache_dir, ec);
  if (ec) throw DataError(cache_dir.string(), "cannot create the corpus directory: " + ec.message());

  // -f: one verse per line, prefixed by its reference, no line wrapping. -p /usr/lib: the Debian data
  // file, not a bible.data that happens to be in the current directory.
  const RunResult r = run(program, {"-f", "-p", "/usr/lib", "Genesis1:1-Revelation22:21"}, target.string());
  std::string stderr_text = r.err.substr(0, 200);
  while (!stderr_text.empty() && (stderr_text.back() == '\n' || stderr_text.back() == '\r')) stderr_text.pop_back();
  if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
    std::string reason = "'" + program + " -f -p /usr/lib Genesis1:1-Revelation22:21' " + describe_status(r.status);
    if (!stderr_text.empty()) reason += " (" + stderr_text + ")";
    if (r.err.find("bible.data") != std::string::npos) reason += "; its data comes from bible-kjv-text: " + kInstall;
    throw DataError(target.string(), reason);
  }
  if (!looks_like_kjv(r.out))
    throw DataError(target.string(), "'" + program + "' printed " + std::to_string(r.out.size()) +
                                         " bytes that do not run from Genesis 1:1 to Revelation 22:21 (" + kInstall +
                                         ")");
  try {
    io::write_atomically(target, [&](io::FileSink& sink) { sink.write(r.out.data(), r.out.size()); });
  } catch (const io::WriteError& e) {
    throw DataError(target.string(), e.reason());
  }
  return target;
}

}  // namespace tandem::data
