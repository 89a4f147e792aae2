// How the processes of a GPU run meet before NCCL can: rank 0 listens on MASTER_ADDR:MASTER_PORT,
// every other rank connects, and once all have arrived rank 0 hands each the same blob (NCCL's
// unique id) - the TCPStore that torch.distributed's env:// rendezvous uses, reduced to what NCCL
// needs. No collective traffic goes this way: NCCL does that.
//
// Protocol (one connection per rank, closed after the exchange): the client sends its hello (magic,
// protocol version, rank, world size); rank 0 answers, once every rank has arrived, with a status
// and the blob; or, when something is wrong, with a status and a message the client throws.
// Failures are clear and bounded by the timeout: a rank that never arrives makes rank 0 fail naming
// it (and tells the ranks that did arrive); a rank 0 that is not there makes a client fail naming
// the address; a second rank with the same number, a world size that differs, a stranger speaking
// another protocol are refused by name.
//
// After the meeting the connections can stay open (Links) for a Watch: every rank sends a heartbeat
// byte each interval over its link (rank 0 to every rank, every rank to rank 0), so that a rank that
// dies (its connection closes) or stops answering (no heartbeat within the timeout) is named within the
// timeout - by rank 0, which tells the others which rank it was, or by the others when rank 0 itself
// is the one - instead of leaving the others waiting in a collective forever.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace tandem::rendezvous {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Endpoint {
  std::string host = "127.0.0.1";  // MASTER_ADDR (a name or a dotted address)
  uint16_t port = 29500;           // MASTER_PORT
};

// The connections a meeting leaves open: on rank 0 one per other rank (by rank), elsewhere the one to
// rank 0 (at index 0). Closed when destroyed. Move-only.
class Links {
 public:
  Links() = default;
  explicit Links(std::vector<int> fds) : fds_(std::move(fds)) {}
  ~Links();
  Links(Links&& o) noexcept : fds_(std::move(o.fds_)) { o.fds_.clear(); }
  Links& operator=(Links&& o) noexcept;
  Links(const Links&) = delete;
  Links& operator=(const Links&) = delete;
  const std::vector<int>& fds() const { return fds_; }

 private:
  std::vector<int> fds_;  // -1 where there is no link
};

// Rank 0: serves `blob` to world_size - 1 ranks and returns when each has it. Throws Error naming
// the ranks missing at the deadline, or the address it could not listen on. With `keep`, the
// connections stay open there (for a Watch) instead of being closed.
void serve(const Endpoint& at, int32_t world_size, const std::vector<uint8_t>& blob, std::chrono::milliseconds timeout,
           Links* keep = nullptr);

// Any other rank: returns the blob of size `size` from rank 0 (retrying the connection until the
// deadline). Throws Error naming the address and the last reason. With `keep`, as serve().
std::vector<uint8_t> join(const Endpoint& at, int32_t rank, int32_t world_size, size_t size,
                          std::chrono::milliseconds timeout, Links* keep = nullptr);

// Heartbeats over a meeting's links, on a thread of its own, until destroyed (which says goodbye on
// every link, so the others do not take a clean exit for a failure). `on_lost(rank, why)` is called
// once, from that thread, for the first rank this one finds gone; on rank 0 the others are told which.
class Watch {
 public:
  using Lost = std::function<void(int32_t rank, const std::string& why)>;
  Watch(Links links, int32_t rank, std::chrono::milliseconds interval, std::chrono::milliseconds timeout, Lost on_lost);
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;
  // Tests: this rank goes silent as if it hung (it stops sending; it still listens).
  void stop_heartbeats() { silent_ = true; }

 private:
  void run();
  void report(int32_t rank, const std::string& why);

  Links links_;
  int32_t rank_;
  std::chrono::milliseconds interval_, timeout_;
  Lost on_lost_;
  std::atomic<bool> stop_{false}, silent_{false};
  bool reported_ = false;
  std::thread thread_;
};

}  // namespace tandem::rendezvous
