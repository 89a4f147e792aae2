// The TCP rendezvous (tcp_rendezvous.hpp): POSIX sockets with poll() deadlines.
#include "tcp_rendezvous.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <thread>

namespace tandem::rendezvous {

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kMagic = 0x4d444e54;  // "TNDM"
constexpr uint32_t kVersion = 1;
constexpr uint32_t kOk = 0, kRefused = 1;

struct Hello {
  uint32_t magic, version;
  int32_t rank, world_size;
};

std::string errno_text(int e) { return std::strerror(e); }
std::string where(const Endpoint& at) { return at.host + ":" + std::to_string(at.port); }

// Closes on every path.
class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

// Waits until fd is readable (or writable); false at the deadline.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) throw Error("rendezvous: poll: " + errno_text(errno));
  }
}

// All `size` bytes, or an Error saying what was cut short.
void read_all(int fd, void* data, size_t size, Clock::time_point deadline, const std::string& peer) {
  auto* p = static_cast<uint8_t*>(data);
  while (size > 0) {
    if (!wait_for(fd, POLLIN, deadline)) throw Error("rendezvous: " + peer + " sent nothing before the deadline");
    const ssize_t n = ::recv(fd, p, size, 0);
    if (n == 0) throw Error("rendezvous: " + peer + " closed the connection");
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw Error("rendezvous: reading from " + peer + ": " + errno_text(errno));
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void write_all(int fd, const void* data, size_t size, const std::string& peer) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("rendezvous: writing to " + peer + ": " + errno_text(errno));
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

// A status and a length-prefixed payload (the blob, or a message).
void reply(int fd, uint32_t status, const void* payload, uint32_t size, const std::string& peer) {
  const uint32_t header[2] = {status, size};
  write_all(fd, header, sizeof header, peer);
  write_all(fd, payload, size, peer);
}

std::string list(const std::vector<int32_t>& ranks) {
  std::string out;
  for (size_t i = 0; i < ranks.size(); ++i) out += (i ? ", " : "") + std::to_string(ranks[i]);
  return out;
}

}  // namespace

Links::~Links() {
  for (int fd : fds_)
    if (fd >= 0) ::close(fd);
}

Links& Links::operator=(Links&& o) noexcept {
  std::swap(fds_, o.fds_);
  return *this;
}

void serve(const Endpoint& at, int32_t world_size, const std::vector<uint8_t>& blob, std::chrono::milliseconds timeout,
           Links* keep) {
  if (world_size <= 1) return;
  const Clock::time_point deadline = Clock::now() + timeout;
  Socket listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (listener.get() < 0) throw Error("rendezvous: socket: " + errno_text(errno));
  const int yes = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);  // MASTER_ADDR names this host for the others
  addr.sin_port = htons(at.port);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw Error("rendezvous: rank 0 cannot listen on port " + std::to_string(at.port) + " (MASTER_PORT): " +
                errno_text(errno));
  if (::listen(listener.get(), world_size) != 0) throw Error("rendezvous: listen: " + errno_text(errno));

  std::vector<Socket> ranks(static_cast<size_t>(world_size));  // by rank; ranks[0] unused
  int32_t arrived = 1;
  while (arrived < world_size) {
    if (!wait_for(listener.get(), POLLIN, deadline)) {
      std::vector<int32_t> missing;
      for (int32_t r = 1; r < world_size; ++r)
        if (ranks[static_cast<size_t>(r)].get() < 0) missing.push_back(r);
      const std::string message = "rank" + std::string(missing.size() > 1 ? "s " : " ") + list(missing) +
                                  " of " + std::to_string(world_size) + " did not arrive at " + where(at) + " within " +
                                  std::to_string(timeout.count() / 1000.0) + " s";
      for (Socket& s : ranks)
        if (s.get() >= 0) {
          try {
            reply(s.get(), kRefused, message.data(), static_cast<uint32_t>(message.size()), "a rank");
          } catch (const Error&) {  // it may be gone too: rank 0's own error is the one to report
          }
        }
      throw Error("rendezvous: " + message);
    }
    Socket client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (client.get() < 0) continue;
    Hello hello{};
    try {
      read_all(client.get(), &hello, sizeof hello, std::min(deadline, Clock::now() + std::chrono::seconds(10)),
               "a connecting process");
    } catch (const Error&) {
      continue;  // a stranger or a port scan: not a rank, keep waiting for the real ones
    }
    std::string refusal;
    if (hello.magic != kMagic || hello.version != kVersion)
      refusal = "not a tandem rendezvous (another program on MASTER_PORT, or another tandem protocol version)";
    else if (hello.world_size != world_size)
      refusal = "WORLD_SIZE " + std::to_string(hello.world_size) + " differs from rank 0's " + std::to_string(world_size);
    else if (hello.rank <= 0 || hello.rank >= world_size)
      refusal = "RANK " + std::to_string(hello.rank) + " is not in 1.." + std::to_string(world_size - 1);
    else if (ranks[static_cast<size_t>(hello.rank)].get() >= 0)
      refusal = "a second process says it is rank " + std::to_string(hello.rank);
    if (!refusal.empty()) {
      try {
        reply(client.get(), kRefused, refusal.data(), static_cast<uint32_t>(refusal.size()), "a rank");
      } catch (const Error&) {
      }
      if (hello.magic == kMagic && hello.world_size != world_size)
        throw Error("rendezvous at " + where(at) + ": " + refusal);
      continue;
    }
    ranks[static_cast<size_t>(hello.rank)] = std::move(client);
    ++arrived;
  }
  for (int32_t r = 1; r < world_size; ++r)
    reply(ranks[static_cast<size_t>(r)].get(), kOk, blob.data(), static_cast<uint32_t>(blob.size()),
          "rank " + std::to_string(r));
  if (keep == nullptr) return;
  std::vector<int> fds(static_cast<size_t>(world_size), -1);
  for (int32_t r = 1; r < world_size; ++r) fds[static_cast<size_t>(r)] = ranks[static_cast<size_t>(r)].release();
  *keep = Links(std::move(fds));
}

std::vector<uint8_t> join(const Endpoint& at, int32_t rank, int32_t world_size, size_t size,
                          std::chrono::milliseconds timeout, Links* keep) {
  const Clock::time_point deadline = Clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  std::string last_reason = "no attempt";
  for (;;) {
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(at.host.c_str(), std::to_string(at.port).c_str(), &hints, &found);
    if (rc != 0) {
      last_reason = std::string("cannot resolve MASTER_ADDR: ") + gai_strerror(rc);
    } else {
      Socket s(::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol));
      const bool connected = s.get() >= 0 && ::connect(s.get(), found->ai_addr, found->ai_addrlen) == 0;
      if (!connected) last_reason = errno_text(errno);
      ::freeaddrinfo(found);
      if (connected) {
        const Hello hello{kMagic, kVersion, rank, world_size};
        write_all(s.get(), &hello, sizeof hello, "rank 0 at " + where(at));
        uint32_t header[2] = {0, 0};
        read_all(s.get(), header, sizeof header, deadline + std::chrono::seconds(5), "rank 0 at " + where(at));
        std::vector<uint8_t> payload(header[1]);
        read_all(s.get(), payload.data(), payload.size(), deadline + std::chrono::seconds(5), "rank 0 at " + where(at));
        if (header[0] != kOk)
          throw Error("rendezvous at " + where(at) + ": rank 0 refused rank " + std::to_string(rank) + ": " +
                      std::string(payload.begin(), payload.end()));
        if (payload.size() != size)
          throw Error("rendezvous at " + where(at) + ": rank 0 sent " + std::to_string(payload.size()) +
                      " bytes, expected " + std::to_string(size));
        if (keep != nullptr) *keep = Links(std::vector<int>{s.release()});
        return payload;
      }
    }
    if (Clock::now() >= deadline)
      throw Error("rendezvous: rank " + std::to_string(rank) + " could not reach rank 0 at " + where(at) +
                  " (MASTER_ADDR:MASTER_PORT) within " + std::to_string(timeout.count() / 1000.0) + " s: " +
                  last_reason);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// The watch's messages, one byte each (kLost is followed by the lost rank as int32).
constexpr uint8_t kHeartbeat = 'H', kGoodbye = 'B', kLost = 'L';

Watch::Watch(Links links, int32_t rank, std::chrono::milliseconds interval, std::chrono::milliseconds timeout,
             Lost on_lost)
    : links_(std::move(links)), rank_(rank), interval_(interval), timeout_(timeout), on_lost_(std::move(on_lost)) {
  thread_ = std::thread([this] { run(); });
}

Watch::~Watch() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (int fd : links_.fds())
    if (fd >= 0) (void)::send(fd, &kGoodbye, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void Watch::report(int32_t rank, const std::string& why) {
  if (reported_) return;
  reported_ = true;
  if (rank_ == 0)  // the others learn which rank it was, and stop waiting on it too
    for (size_t r = 1; r < links_.fds().size(); ++r) {
      const int fd = links_.fds()[r];
      if (fd < 0 || static_cast<int32_t>(r) == rank) continue;
      uint8_t message[1 + sizeof(int32_t)] = {kLost};
      std::memcpy(message + 1, &rank, sizeof rank);
      (void)::send(fd, message, sizeof message, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
  on_lost_(rank, why);
}

void Watch::run() {
  const std::vector<int>& fds = links_.fds();
  std::vector<Clock::time_point> last_seen(fds.size(), Clock::now());
  std::vector<bool> gone(fds.size(), false);  // said goodbye: a clean exit
  Clock::time_point next_beat = Clock::now();
  const std::string silence = "stopped answering (no heartbeat for " + std::to_string(timeout_.count() / 1000.0) + " s)";
  while (!stop_ && !reported_) {
    const Clock::time_point now = Clock::now();
    if (now >= next_beat) {
      if (!silent_)
        for (int fd : fds)
          if (fd >= 0) (void)::send(fd, &kHeartbeat, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      next_beat = now + interval_;
    }
    std::vector<pollfd> polled;
    std::vector<size_t> who;
    for (size_t r = 0; r < fds.size(); ++r)
      if (fds[r] >= 0 && !gone[r]) {
        polled.push_back(pollfd{fds[r], POLLIN, 0});
        who.push_back(r);
      }
    if (polled.empty()) return;
    const int wait = static_cast<int>(std::clamp<int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(next_beat - Clock::now()).count(), 1, 100));
    if (::poll(polled.data(), polled.size(), wait) < 0 && errno != EINTR) return report(-1, "poll failed");
    for (size_t i = 0; i < polled.size() && !reported_; ++i) {
      const size_t r = who[i];
      const int32_t peer = static_cast<int32_t>(r);
      if ((polled[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      uint8_t buffer[64];
      const ssize_t n = ::recv(fds[r], buffer, sizeof buffer, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        if (!gone[r]) report(peer, "closed its connection to rank " + std::to_string(rank_) + " (its process ended?)");
        continue;
      }
      for (ssize_t k = 0; k < n; ++k) {
        if (buffer[k] == kHeartbeat) {
          last_seen[r] = Clock::now();
        } else if (buffer[k] == kGoodbye) {
          gone[r] = true;
        } else if (buffer[k] == kLost && rank_ != 0) {
          uint8_t bytes[sizeof(int32_t)] = {};
          const size_t here = std::min<size_t>(sizeof bytes, static_cast<size_t>(n - k - 1));
          std::memcpy(bytes, buffer + k + 1, here);
          try {  // the rank may arrive in the next segment
            if (here < sizeof bytes)
              read_all(fds[r], bytes + here, sizeof bytes - here, Clock::now() + std::chrono::seconds(1), "rank 0");
          } catch (const Error&) {
          }
          int32_t lost = -1;
          std::memcpy(&lost, bytes, sizeof lost);
          report(lost, "was lost: rank 0 found it gone");
          break;
        }
      }
    }
    const Clock::time_point after = Clock::now();
    for (size_t r = 0; r < fds.size() && !reported_; ++r)
      if (fds[r] >= 0 && !gone[r] && after - last_seen[r] > timeout_) report(static_cast<int32_t>(r), silence);
  }
}

}  // namespace tandem::rendezvous
