// The threads that play this process's ranks. run(fn) calls fn(local_rank) on every rank at once
// and returns when all are done. If a rank throws, the communicator is told (abort), so that ranks
// blocked in a collective fail instead of waiting forever, and run() rethrows the first failure
// that was not itself caused by another rank's abort.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tandem {

class RankPool {
 public:
  // on_failure(local_rank, message) is called from the failing rank's thread; it must not block.
  RankPool(int32_t ranks, std::function<void(int32_t, const char*)> on_failure);
  ~RankPool();
  RankPool(const RankPool&) = delete;
  RankPool& operator=(const RankPool&) = delete;

  int32_t size() const { return static_cast<int32_t>(threads_.size()) + 1; }
  // Rank 0 runs on the calling thread; the others on the pool's threads. Not reentrant.
  void run(const std::function<void(int32_t)>& fn);

 private:
  void worker(int32_t rank);
  void run_rank(int32_t rank);

  std::function<void(int32_t, const char*)> on_failure_;
  std::mutex mutex_;
  std::condition_variable start_, done_;
  const std::function<void(int32_t)>* job_ = nullptr;
  uint64_t generation_ = 0;
  int32_t pending_ = 0;
  bool stopping_ = false;
  std::vector<std::exception_ptr> errors_;
  std::vector<bool> secondary_;  // the rank failed because another rank aborted
  std::vector<std::thread> threads_;
};

}  // namespace tandem
