// Where the ranks of the local communicator (threads of one process) meet for each collective.
//
// A collective is two meetings:
//   arrive(rank, post): the rank posts what it brings (the call, its count, dtype, op, root and its
//       buffers) and waits until every rank has posted. The last to arrive checks that all ranks
//       made the same call; then every rank gets all ranks' posts and does its own part of the work,
//       reading the other ranks' buffers directly (no lock is held during the work).
//   depart(rank): waits until every rank has finished its part, so that no rank returns (and
//       reuses or frees its buffers) while another still reads or writes them. A barrier, which
//       touches no buffer, does not depart.
// Each meeting is a generation-counted barrier (a mutex, a condition variable, a counter that resets
// and a generation that advances when the last rank arrives), so one Rendezvous serves collective
// after collective, and a fast rank can enter the next collective while a slow one is still waking
// from the last.
//
// Failure ends the group, never hangs it: abort(rank, message), a timeout while waiting to arrive,
// or a mismatch between the ranks' calls puts the rendezvous in a failed state with one message (the
// first failure wins). Every rank waiting to arrive, and every later arrival, then throws
// std::runtime_error with that message. A collective whose ranks have all arrived is completed by all
// of them (the work needs no other rank and cannot block), so departing never fails or times out:
// that is what keeps a rank from leaving while another still uses its buffers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tandem_local_comm {

enum class Collective { AllReduce, ReduceScatter, AllGather, Broadcast, Barrier };

// What one rank brings to a collective. Fields a collective does not use are 0 / null, so that two
// posts of the same call compare equal field by field.
struct Post {
  Collective kind = Collective::Barrier;
  size_t count = 0;    // elements (broadcast: bytes)
  uint32_t dtype = 0;  // reductions and all_gather
  uint32_t op = 0;     // reductions
  int32_t root = 0;    // broadcast
  const void* input = nullptr;
  void* output = nullptr;  // all_reduce and broadcast: the rank's buffer
};

const char* collective_name(Collective kind);
// "all_reduce(count=10, F32, SUM)"
std::string describe(const Post& post);

class Rendezvous {
 public:
  // `label` starts every message ("local comm 'student.comm'").
  Rendezvous(int32_t ranks, std::chrono::duration<double> timeout, std::string label);

  // Posts for `rank` and waits for every rank. Returns all ranks' posts (index = rank), valid until
  // this rank's depart(). Throws std::runtime_error if the group has failed or fails while waiting
  // (abort, timeout, mismatch), and std::invalid_argument if `rank` is already inside a collective.
  std::span<const Post> arrive(int32_t rank, const Post& post);
  // Waits until every rank has departed from the collective all of them arrived at. Never throws.
  void depart() noexcept;
  // Fails the group with "rank R failed: <message>" unless it has already failed. Never blocks for
  // longer than it takes to set the message.
  void abort(int32_t rank, std::string_view message) noexcept;

 private:
  // Caller holds mutex_.
  void fail_locked(std::string message);
  // The message for a mismatch between the ranks' posts, if any (checked by the last arrival).
  std::optional<std::string> check_posts_locked() const;
  std::string timeout_message_locked(int32_t rank, uint64_t collective) const;

  const int32_t ranks_;
  const std::chrono::steady_clock::duration timeout_;
  const double timeout_seconds_;
  const std::string label_;

  std::mutex mutex_;
  std::condition_variable changed_;

  // Arrival: posts of the collective being gathered.
  // Collectives whose arrival completed; the one being gathered is number arrival_generation_ + 1 in
  // messages (counted from 1).
  uint64_t arrival_generation_ = 0;
  int32_t arrived_ = 0;
  std::vector<Post> posts_;
  std::vector<char> posted_;  // posted_[r]: rank r has posted for arrival_generation_

  // Departure.
  uint64_t departure_generation_ = 0;
  int32_t departed_ = 0;

  std::optional<std::string> failure_;
  std::optional<uint64_t> mismatched_generation_;  // the collective whose posts disagreed
};

// Departs when it goes out of scope, whatever the work in between did.
class Departure {
 public:
  explicit Departure(Rendezvous& r) : rendezvous_(r) {}
  ~Departure() { rendezvous_.depart(); }
  Departure(const Departure&) = delete;
  Departure& operator=(const Departure&) = delete;

 private:
  Rendezvous& rendezvous_;
};

}  // namespace tandem_local_comm
