// See rendezvous.hpp.
#include "rendezvous.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "tandem/comm.hpp"
#include "tandem/dtype.hpp"

namespace tandem_local_comm {

const char* collective_name(Collective kind) {
  switch (kind) {
    case Collective::AllReduce:
      return "all_reduce";
    case Collective::ReduceScatter:
      return "reduce_scatter";
    case Collective::AllGather:
      return "all_gather";
    case Collective::Broadcast:
      return "broadcast";
    case Collective::Barrier:
      return "barrier";
  }
  return "unknown collective";
}

std::string describe(const Post& post) {
  std::string out = collective_name(post.kind);
  switch (post.kind) {
    case Collective::AllReduce:
    case Collective::ReduceScatter:
      return out + "(count=" + std::to_string(post.count) + ", " + tandem::sdk::dtype_name(post.dtype) + ", " +
             tandem::sdk::reduce_op_name(post.op) + ")";
    case Collective::AllGather:
      return out + "(count=" + std::to_string(post.count) + ", " + tandem::sdk::dtype_name(post.dtype) + ")";
    case Collective::Broadcast:
      return out + "(bytes=" + std::to_string(post.count) + ", root=" + std::to_string(post.root) + ")";
    case Collective::Barrier:
      return out + "()";
  }
  return out;
}

namespace {

std::string seconds_text(double s) {
  char buffer[32];
  const auto r = std::to_chars(buffer, buffer + sizeof(buffer), s);
  return std::string(buffer, r.ptr) + " s";
}

bool same_call(const Post& a, const Post& b) {
  return a.kind == b.kind && a.count == b.count && a.dtype == b.dtype && a.op == b.op && a.root == b.root;
}

}  // namespace

Rendezvous::Rendezvous(int32_t ranks, std::chrono::duration<double> timeout, std::string label)
    : ranks_(ranks),
      timeout_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout)),
      timeout_seconds_(timeout.count()),
      label_(std::move(label)),
      posts_(static_cast<size_t>(ranks)),
      posted_(static_cast<size_t>(ranks), 0) {
  if (ranks < 1) throw std::invalid_argument(label_ + ": world_size must be >= 1");
}

std::span<const Post> Rendezvous::arrive(int32_t rank, const Post& post) {
  std::unique_lock lock(mutex_);
  if (failure_) throw std::runtime_error(*failure_);
  if (posted_[rank])
    throw std::invalid_argument(label_ + ": rank " + std::to_string(rank) + " entered " + describe(post) +
                                " while already inside " + describe(posts_[rank]) +
                                " (two threads calling for one local rank?)");
  const uint64_t collective = arrival_generation_;
  posts_[rank] = post;
  posted_[rank] = 1;
  if (++arrived_ == ranks_) {
    // The last to arrive checks the call and opens the way for everyone.
    if (std::optional<std::string> mismatch = check_posts_locked()) {
      mismatched_generation_ = collective;
      fail_locked(std::move(*mismatch));
    }
    arrived_ = 0;
    std::fill(posted_.begin(), posted_.end(), 0);
    ++arrival_generation_;
    changed_.notify_all();
  } else {
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    while (arrival_generation_ == collective) {
      if (!failure_ && changed_.wait_until(lock, deadline) == std::cv_status::timeout &&
          arrival_generation_ == collective && !failure_)
        fail_locked(timeout_message_locked(rank, collective));
      if (arrival_generation_ == collective && failure_) {
        // Withdraw the post: the group has failed and this collective will never complete.
        posted_[rank] = 0;
        --arrived_;
        throw std::runtime_error(*failure_);
      }
    }
  }
  if (mismatched_generation_ == collective) throw std::runtime_error(*failure_);
  return posts_;
}

void Rendezvous::depart() noexcept {
  std::unique_lock lock(mutex_);
  const uint64_t generation = departure_generation_;
  if (++departed_ == ranks_) {
    departed_ = 0;
    ++departure_generation_;
    changed_.notify_all();
    return;
  }
  // No failure or timeout here (see rendezvous.hpp): every rank that arrived is doing work that
  // needs nobody else, and will come.
  changed_.wait(lock, [&] { return departure_generation_ != generation; });
}

void Rendezvous::abort(int32_t rank, std::string_view message) noexcept {
  try {
    std::lock_guard lock(mutex_);
    if (!failure_) fail_locked("rank " + std::to_string(rank) + " failed: " + std::string(message));
  } catch (...) {
    // Out of memory for the message: nothing else can be done without blocking or throwing.
  }
}

void Rendezvous::fail_locked(std::string message) {
  if (!failure_) failure_ = std::move(message);
  changed_.notify_all();
}

std::optional<std::string> Rendezvous::check_posts_locked() const {
  const Post& first = posts_[0];
  for (int32_t r = 1; r < ranks_; ++r) {
    if (!same_call(first, posts_[r]))
      return label_ + ": collective #" + std::to_string(arrival_generation_ + 1) +
             " differs between ranks: rank 0 called " + describe(first) + ", rank " + std::to_string(r) + " called " +
             describe(posts_[r]) + " (every rank must make the same collectives in the same order)";
  }
  // An in-place all_reduce reads every rank's buffer and writes them all: one buffer given by two
  // ranks would be counted twice.
  if (first.kind == Collective::AllReduce && first.count > 0) {
    for (int32_t a = 0; a < ranks_; ++a)
      for (int32_t b = a + 1; b < ranks_; ++b)
        if (posts_[a].output == posts_[b].output)
          return label_ + ": collective #" + std::to_string(arrival_generation_ + 1) + ": ranks " + std::to_string(a) +
                 " and " + std::to_string(b) + " passed the same buffer to " + describe(first);
  }
  return std::nullopt;
}

std::string Rendezvous::timeout_message_locked(int32_t rank, uint64_t collective) const {
  std::string missing;
  int32_t count = 0;
  for (int32_t r = 0; r < ranks_; ++r) {
    if (posted_[r]) continue;
    missing += (count++ == 0 ? "" : ", ") + std::to_string(r);
  }
  return label_ + ": rank " + std::to_string(rank) + " waited " + seconds_text(timeout_seconds_) +
         " (timeout_seconds) in " + describe(posts_[rank]) + " (collective #" + std::to_string(collective + 1) +
         ") for " + (count == 1 ? "rank " : "ranks ") + missing + ", which did not arrive";
}

}  // namespace tandem_local_comm
