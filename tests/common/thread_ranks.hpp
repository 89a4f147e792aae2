// Runs a test body on N threads, one per rank (the CPU backend's ranks are threads), and collects
// what each rank threw, so that a test can assert on every rank's outcome. A hang fails loudly: if
// the ranks have not all returned within the hang limit, the process prints which ranks are still
// running and aborts (a stuck collective must fail the test, not stall the suite; the threads
// cannot be cancelled, and they use the caller's stack, so returning is not an option).
//
//   tandem::test::RankResults r = tandem::test::run_ranks(3, [&](int rank) { ... });
//   EXPECT_TRUE(r.all_ok()) << r.summary();
//   EXPECT_THAT(r.message(1), HasSubstr("rank 0 failed"));
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace tandem::test {

struct RankResults {
  std::vector<std::exception_ptr> errors;  // index = rank; null when the rank returned normally

  bool all_ok() const {
    for (const auto& e : errors)
      if (e) return false;
    return true;
  }
  bool ok(int rank) const { return !errors.at(static_cast<size_t>(rank)); }
  // what() of the rank's exception; "" if it returned normally, "(not a std::exception)" otherwise.
  std::string message(int rank) const {
    const std::exception_ptr& e = errors.at(static_cast<size_t>(rank));
    if (!e) return "";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      return x.what();
    } catch (...) {
      return "(not a std::exception)";
    }
  }
  // "rank 1: <message>; rank 2: <message>", or "all ranks returned".
  std::string summary() const {
    std::string out;
    for (size_t r = 0; r < errors.size(); ++r)
      if (errors[r])
        out += (out.empty() ? "" : "; ") + ("rank " + std::to_string(r) + ": " + message(static_cast<int>(r)));
    return out.empty() ? "all ranks returned" : out;
  }
};

// Calls body(rank) for rank = 0..n-1, each on its own thread, and waits for all of them.
template <class Body>
RankResults run_ranks(int n, Body&& body, std::chrono::milliseconds hang_limit = std::chrono::seconds(120)) {
  RankResults results;
  results.errors.resize(static_cast<size_t>(n));
  std::mutex mutex;
  std::condition_variable finished_cv;
  std::vector<char> finished(static_cast<size_t>(n), 0);
  int finished_count = 0;

  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(n));
  for (int rank = 0; rank < n; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        body(rank);
      } catch (...) {
        results.errors[static_cast<size_t>(rank)] = std::current_exception();
      }
      std::lock_guard lock(mutex);
      finished[static_cast<size_t>(rank)] = 1;
      ++finished_count;
      finished_cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mutex);
    if (!finished_cv.wait_for(lock, hang_limit, [&] { return finished_count == n; })) {
      std::string running;
      for (int r = 0; r < n; ++r)
        if (!finished[static_cast<size_t>(r)]) running += (running.empty() ? "" : ", ") + std::to_string(r);
      std::fprintf(stderr, "run_ranks: rank(s) %s still running after %lld ms: a hang; aborting the test process\n",
                   running.c_str(), static_cast<long long>(hang_limit.count()));
      std::fflush(stderr);
      std::abort();
    }
  }
  for (std::thread& t : threads) t.join();
  return results;
}

// run_ranks, then throws std::runtime_error with every failure (for tests where no rank may fail).
template <class Body>
void run_ranks_or_throw(int n, Body&& body, std::chrono::milliseconds hang_limit = std::chrono::seconds(120)) {
  const RankResults r = run_ranks(n, std::forward<Body>(body), hang_limit);
  if (!r.all_ok()) throw std::runtime_error(r.summary());
}

}  // namespace tandem::test
