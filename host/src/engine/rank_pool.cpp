#include "engine/rank_pool.hpp"

#include <string>

namespace tandem {

namespace {
// How a communicator words a failure caused by another rank (comm.h): "rank R failed: ...".
bool caused_by_another_rank(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return std::string(ex.what()).find("rank ") != std::string::npos &&
           std::string(ex.what()).find(" failed: ") != std::string::npos;
  } catch (...) {
    return false;
  }
}
}  // namespace

RankPool::RankPool(int32_t ranks, std::function<void(int32_t, const char*)> on_failure)
    : on_failure_(std::move(on_failure)), errors_(static_cast<size_t>(ranks)), secondary_(static_cast<size_t>(ranks)) {
  for (int32_t r = 1; r < ranks; ++r) threads_.emplace_back([this, r] { worker(r); });
}

RankPool::~RankPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  start_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void RankPool::run_rank(int32_t rank) {
  try {
    (*job_)(rank);
  } catch (...) {
    errors_[static_cast<size_t>(rank)] = std::current_exception();
    secondary_[static_cast<size_t>(rank)] = caused_by_another_rank(errors_[static_cast<size_t>(rank)]);
    std::string message = "unknown error";
    try {
      throw;
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
    }
    if (on_failure_) on_failure_(rank, message.c_str());
  }
}

void RankPool::worker(int32_t rank) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
    }
    run_rank(rank);
    {
      std::lock_guard lock(mutex_);
      if (--pending_ == 0) done_.notify_all();
    }
  }
}

void RankPool::run(const std::function<void(int32_t)>& fn) {
  {
    std::lock_guard lock(mutex_);
    job_ = &fn;
    pending_ = static_cast<int32_t>(threads_.size());
    for (auto& e : errors_) e = nullptr;
    for (size_t i = 0; i < secondary_.size(); ++i) secondary_[i] = false;
    ++generation_;
  }
  start_.notify_all();
  run_rank(0);
  {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
  }
  // The root cause first: a rank whose failure was not another rank's abort.
  for (size_t r = 0; r < errors_.size(); ++r)
    if (errors_[r] && !secondary_[r]) std::rethrow_exception(errors_[r]);
  for (const auto& e : errors_)
    if (e) std::rethrow_exception(e);
}

}  // namespace tandem
