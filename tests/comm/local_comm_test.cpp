// The local communicator: N = 1..4 ranks as threads. Every collective's result is compared bit for
// bit with a reference computed sequentially here (the rank-ordered sum of comm.h, AVERAGE = sum
// times tandem::sdk::average_factor); reduce_scatter with the all_reduce's slices; repeated runs with
// each other. Failures: an abort ends the other ranks promptly with its message, a mismatch between
// the ranks' calls fails every rank naming both calls, a timeout names the rank that did not arrive.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../common/static_module.hpp"
#include "../common/thread_ranks.hpp"
#include "tandem/comm.hpp"

extern "C" const tandem_module_descriptor* tandem_module_descriptor_local(void);

namespace tandem::test {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

struct LocalComm {
  explicit LocalComm(int world_size, double timeout_seconds = 300.0)
      : instance(tandem_module_descriptor_local(),
                 R"({"world_size": )" + std::to_string(world_size) + R"(, "timeout_seconds": )" +
                     std::to_string(timeout_seconds) + "}",
                 "test.comm") {}
  sdk::CommClient rank(int r) const { return sdk::CommClient(instance.handle(), vtable(), r); }
  const tandem_comm_vtable* vtable() const { return instance.vtable<tandem_comm_vtable>(); }
  StaticInstance instance;
};

// Values spread over six orders of magnitude and both signs, so that the order of a sum changes its
// rounding (the determinism checks below would otherwise prove little).
template <class T>
std::vector<T> random_values(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> exponent(-3.0, 3.0);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(normal(rng) * std::pow(10.0, exponent(rng)));
  return v;
}

// The reduction comm.h defines, sequentially: rank 0 first, then 1, 2, ...; AVERAGE multiplies by
// 1/N; MAX keeps NaN.
template <class T>
std::vector<T> reference_reduce(const std::vector<std::vector<T>>& inputs, size_t begin, size_t count,
                                tandem_reduce_op op) {
  std::vector<T> out(count);
  for (size_t i = 0; i < count; ++i) {
    T acc = inputs[0][begin + i];
    for (size_t r = 1; r < inputs.size(); ++r) {
      const T x = inputs[r][begin + i];
      if (op == TANDEM_REDUCE_MAX)
        acc = (std::isnan(acc) || std::isnan(x)) ? std::numeric_limits<T>::quiet_NaN() : std::max(acc, x);
      else
        acc = acc + x;
    }
    if (op == TANDEM_REDUCE_AVERAGE) acc = acc * (T(1) / static_cast<T>(inputs.size()));
    out[i] = acc;
  }
  return out;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

template <class T>
size_t first_difference(const std::vector<T>& a, const std::vector<T>& b) {
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return i;
  return std::min(a.size(), b.size());
}

class LocalCommWorld : public ::testing::TestWithParam<int> {};

template <class T>
void check_all_reduce(int n, tandem_reduce_op op, size_t count, uint64_t seed) {
  SCOPED_TRACE("N=" + std::to_string(n) + " " + sdk::reduce_op_name(op) + " " + sdk::dtype_name(sdk::dtype_of<T>()) +
               " count=" + std::to_string(count));
  LocalComm comm(n);
  std::vector<std::vector<T>> inputs(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) inputs[static_cast<size_t>(r)] = random_values<T>(count, seed + static_cast<uint64_t>(r));
  std::vector<std::vector<T>> buffers = inputs;
  const RankResults results =
      run_ranks(n, [&](int r) { comm.rank(r).all_reduce(std::span<T>(buffers[static_cast<size_t>(r)]), op); });
  ASSERT_TRUE(results.all_ok()) << results.summary();
  const std::vector<T> want = reference_reduce(inputs, 0, count, op);
  for (int r = 0; r < n; ++r)
    EXPECT_TRUE(same_bits(buffers[static_cast<size_t>(r)], want))
        << "rank " << r << " differs at element " << first_difference(buffers[static_cast<size_t>(r)], want);
}

TEST_P(LocalCommWorld, AllReduceEqualsTheRankOrderedReference) {
  const int n = GetParam();
  uint64_t seed = 10;
  for (tandem_reduce_op op : {TANDEM_REDUCE_SUM, TANDEM_REDUCE_AVERAGE, TANDEM_REDUCE_MAX})
    for (size_t count : {size_t{0}, size_t{1}, size_t{3}, size_t{1000}, size_t{4099}}) {
      check_all_reduce<float>(n, op, count, seed += 10);
      check_all_reduce<double>(n, op, count, seed += 10);
    }
}

template <class T>
void check_reduce_scatter(int n, tandem_reduce_op op, size_t count, uint64_t seed) {
  SCOPED_TRACE("N=" + std::to_string(n) + " " + sdk::reduce_op_name(op) + " " + sdk::dtype_name(sdk::dtype_of<T>()) +
               " count=" + std::to_string(count));
  const size_t total = count * static_cast<size_t>(n);
  LocalComm comm(n);
  std::vector<std::vector<T>> inputs(static_cast<size_t>(n)), outputs(static_cast<size_t>(n), std::vector<T>(count));
  for (int r = 0; r < n; ++r) inputs[static_cast<size_t>(r)] = random_values<T>(total, seed + static_cast<uint64_t>(r));
  std::vector<std::vector<T>> reduced = inputs;  // all_reduce of the same inputs
  const RankResults results = run_ranks(n, [&](int r) {
    const size_t i = static_cast<size_t>(r);
    sdk::CommClient c = comm.rank(r);
    c.reduce_scatter(std::span<const T>(inputs[i]), std::span<T>(outputs[i]), op);
    c.all_reduce(std::span<T>(reduced[i]), op);
  });
  ASSERT_TRUE(results.all_ok()) << results.summary();
  for (int r = 0; r < n; ++r) {
    const size_t begin = count * static_cast<size_t>(r);
    const std::vector<T> slice(reduced[0].begin() + static_cast<std::ptrdiff_t>(begin),
                               reduced[0].begin() + static_cast<std::ptrdiff_t>(begin + count));
    EXPECT_TRUE(same_bits(outputs[static_cast<size_t>(r)], slice)) << "rank " << r << ": not the all_reduce's slice";
    EXPECT_TRUE(same_bits(outputs[static_cast<size_t>(r)], reference_reduce(inputs, begin, count, op)))
        << "rank " << r << ": not the reference";
  }
}

TEST_P(LocalCommWorld, ReduceScatterEqualsTheAllReducesSliceBitForBit) {
  const int n = GetParam();
  uint64_t seed = 1000;
  for (tandem_reduce_op op : {TANDEM_REDUCE_SUM, TANDEM_REDUCE_AVERAGE, TANDEM_REDUCE_MAX})
    for (size_t count : {size_t{0}, size_t{1}, size_t{5}, size_t{1001}}) {
      check_reduce_scatter<float>(n, op, count, seed += 10);
      check_reduce_scatter<double>(n, op, count, seed += 10);
    }
}

TEST_P(LocalCommWorld, ReduceScatterInPlace) {
  // The output may be the rank's own slice of its input (as NCCL allows).
  const int n = GetParam();
  const size_t count = 257;
  LocalComm comm(n);
  std::vector<std::vector<float>> inputs(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r)
    inputs[static_cast<size_t>(r)] =
        random_values<float>(count * static_cast<size_t>(n), 77 + static_cast<uint64_t>(r));
  std::vector<std::vector<float>> buffers = inputs;
  const RankResults results = run_ranks(n, [&](int r) {
    std::vector<float>& b = buffers[static_cast<size_t>(r)];
    comm.rank(r).reduce_scatter(std::span<const float>(b),
                                std::span<float>(b.data() + count * static_cast<size_t>(r), count), TANDEM_REDUCE_SUM);
  });
  ASSERT_TRUE(results.all_ok()) << results.summary();
  for (int r = 0; r < n; ++r) {
    const std::vector<float> got(
        buffers[static_cast<size_t>(r)].begin() + static_cast<std::ptrdiff_t>(count * static_cast<size_t>(r)),
        buffers[static_cast<size_t>(r)].begin() + static_cast<std::ptrdiff_t>(count * static_cast<size_t>(r + 1)));
    EXPECT_TRUE(same_bits(got, reference_reduce(inputs, count * static_cast<size_t>(r), count, TANDEM_REDUCE_SUM)))
        << "rank " << r;
  }
}

template <class T>
void check_all_gather(int n, size_t count, bool in_place) {
  SCOPED_TRACE("N=" + std::to_string(n) + " " + sdk::dtype_name(sdk::dtype_of<T>()) +
               " count=" + std::to_string(count) + (in_place ? " in place" : ""));
  LocalComm comm(n);
  const size_t total = count * static_cast<size_t>(n);
  std::vector<std::vector<T>> inputs(static_cast<size_t>(n)), outputs(static_cast<size_t>(n), std::vector<T>(total));
  std::vector<T> want;
  for (int r = 0; r < n; ++r) {
    std::vector<T>& in = inputs[static_cast<size_t>(r)];
    for (size_t i = 0; i < count; ++i) in.push_back(static_cast<T>(1000 * r + static_cast<int>(i) + 1));
    want.insert(want.end(), in.begin(), in.end());
    if (in_place)
      std::copy(in.begin(), in.end(),
                outputs[static_cast<size_t>(r)].begin() + static_cast<std::ptrdiff_t>(count * static_cast<size_t>(r)));
  }
  const RankResults results = run_ranks(n, [&](int r) {
    std::vector<T>& out = outputs[static_cast<size_t>(r)];
    const std::span<const T> in = in_place ? std::span<const T>(out.data() + count * static_cast<size_t>(r), count)
                                           : std::span<const T>(inputs[static_cast<size_t>(r)]);
    comm.rank(r).all_gather(in, std::span<T>(out));
  });
  ASSERT_TRUE(results.all_ok()) << results.summary();
  for (int r = 0; r < n; ++r) EXPECT_TRUE(same_bits(outputs[static_cast<size_t>(r)], want)) << "rank " << r;
}

TEST_P(LocalCommWorld, AllGatherConcatenatesInRankOrder) {
  const int n = GetParam();
  for (bool in_place : {false, true})
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{3000}}) {
      check_all_gather<float>(n, count, in_place);
      check_all_gather<double>(n, count, in_place);
      check_all_gather<uint16_t>(n, count, in_place);  // bf16 bits: any dtype moves as bytes
      check_all_gather<int64_t>(n, count, in_place);
    }
}

TEST_P(LocalCommWorld, BroadcastFromEachRoot) {
  const int n = GetParam();
  for (int root = 0; root < n; ++root) {
    SCOPED_TRACE("root " + std::to_string(root));
    LocalComm comm(n);
    const size_t bytes = 13;  // not a multiple of any element size
    std::vector<std::vector<unsigned char>> buffers(static_cast<size_t>(n));
    for (int r = 0; r < n; ++r)
      for (size_t i = 0; i < bytes; ++i)
        buffers[static_cast<size_t>(r)].push_back(static_cast<unsigned char>(r * 31 + static_cast<int>(i)));
    const std::vector<unsigned char> want = buffers[static_cast<size_t>(root)];
    const RankResults results =
        run_ranks(n, [&](int r) { comm.rank(r).broadcast(buffers[static_cast<size_t>(r)].data(), bytes, root); });
    ASSERT_TRUE(results.all_ok()) << results.summary();
    for (int r = 0; r < n; ++r) EXPECT_EQ(buffers[static_cast<size_t>(r)], want) << "rank " << r;
  }
}

TEST_P(LocalCommWorld, BarrierHoldsEveryRankUntilAllArrive) {
  const int n = GetParam();
  constexpr int kRounds = 50;
  LocalComm comm(n);
  std::vector<std::atomic<int>> arrived(kRounds);
  std::atomic<int> violations{0};
  const RankResults results = run_ranks(n, [&](int r) {
    sdk::CommClient c = comm.rank(r);
    for (int round = 0; round < kRounds; ++round) {
      if ((round + r) % 3 == 0) std::this_thread::yield();  // vary who comes last
      arrived[static_cast<size_t>(round)].fetch_add(1);
      c.barrier();
      if (arrived[static_cast<size_t>(round)].load() != n) violations.fetch_add(1);
    }
  });
  ASSERT_TRUE(results.all_ok()) << results.summary();
  EXPECT_EQ(violations.load(), 0) << "a rank left a barrier before every rank had reached it";
}

TEST_P(LocalCommWorld, RepeatedRunsAreBitwiseIdentical) {
  // A mixed sequence of collectives, run 5 times on fresh communicators: the same bits each time,
  // and each time the rank-ordered reference.
  const int n = GetParam();
  const size_t count = 999;
  const auto run_once = [&] {
    LocalComm comm(n);
    std::vector<std::vector<float>> data(static_cast<size_t>(n));
    for (int r = 0; r < n; ++r)
      data[static_cast<size_t>(r)] =
          random_values<float>(count * static_cast<size_t>(n), 500 + static_cast<uint64_t>(r));
    const RankResults results = run_ranks(n, [&](int r) {
      sdk::CommClient c = comm.rank(r);
      std::vector<float>& d = data[static_cast<size_t>(r)];
      for (int round = 0; round < 20; ++round) {
        c.all_reduce(std::span<float>(d), round % 2 ? TANDEM_REDUCE_AVERAGE : TANDEM_REDUCE_SUM);
        std::vector<float> shard(count);
        c.reduce_scatter(std::span<const float>(d), std::span<float>(shard), TANDEM_REDUCE_AVERAGE);
        for (float& x : shard) x = x * 0.5f + static_cast<float>(r);
        c.all_gather(std::span<const float>(shard), std::span<float>(d));
      }
    });
    EXPECT_TRUE(results.all_ok()) << results.summary();
    return data;
  };
  const auto first = run_once();
  for (int repeat = 0; repeat < 4; ++repeat) {
    const auto again = run_once();
    for (int r = 0; r < n; ++r)
      ASSERT_TRUE(same_bits(first[static_cast<size_t>(r)], again[static_cast<size_t>(r)]))
          << "repeat " << repeat << " rank " << r;
  }
  // Every rank ends with the same all-gathered data.
  for (int r = 1; r < n; ++r) EXPECT_TRUE(same_bits(first[0], first[static_cast<size_t>(r)]));
}

TEST_P(LocalCommWorld, AbortEndsTheWaitingRanksPromptlyWithItsMessage) {
  const int n = GetParam();
  if (n < 2) GTEST_SKIP() << "needs another rank to abort";
  LocalComm comm(n);  // timeout 300 s: only the abort can end the wait quickly
  const int failing = n - 1;
  const Clock::time_point start = Clock::now();
  const RankResults results = run_ranks(n, [&](int r) {
    sdk::CommClient c = comm.rank(r);
    if (r == failing) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the others are waiting by now
      c.abort("out of memory in layer 3");
      return;
    }
    std::vector<float> x(10, 1.0f);
    c.all_reduce(std::span<float>(x), TANDEM_REDUCE_SUM);
  });
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_LT(seconds, 5.0) << "the abort did not end the wait promptly";
  for (int r = 0; r < n; ++r) {
    if (r == failing) continue;
    EXPECT_THAT(results.message(r), HasSubstr("rank " + std::to_string(failing) + " failed: out of memory in layer 3"));
  }
  // Later collectives fail at once too, on every rank, with the status comm.h names.
  for (int r = 0; r < n; ++r) {
    sdk::ErrorBuffer err;
    EXPECT_EQ(comm.vtable()->barrier(comm.instance.handle(), r, err.get()), TANDEM_STATUS_INTERNAL);
    EXPECT_THAT(err.message(), HasSubstr("rank " + std::to_string(failing) + " failed"));
  }
}

TEST_P(LocalCommWorld, AbortBeforeTheOthersArriveFailsThemOnEntry) {
  const int n = GetParam();
  LocalComm comm(n);
  comm.rank(0).abort("bad batch");
  const RankResults results = run_ranks(n, [&](int r) { comm.rank(r).barrier(); });
  for (int r = 0; r < n; ++r) EXPECT_THAT(results.message(r), HasSubstr("rank 0 failed: bad batch"));
}

TEST_P(LocalCommWorld, MismatchedCollectivesFailEveryRankNamingBoth) {
  const int n = GetParam();
  if (n < 2) GTEST_SKIP() << "needs two ranks to disagree";
  struct Case {
    const char* what;
    std::string rank0, other;
  };
  // Rank n-1 makes another call than the others.
  const std::vector<Case> cases = {
      {"kind", "all_reduce(count=8, F32, SUM)", "all_gather(count=8, F32)"},
      {"count", "all_reduce(count=8, F32, SUM)", "all_reduce(count=9, F32, SUM)"},
      {"op", "all_reduce(count=8, F32, SUM)", "all_reduce(count=8, F32, MAX)"},
      {"dtype", "all_reduce(count=8, F32, SUM)", "all_reduce(count=8, F64, SUM)"},
      {"root", "broadcast(bytes=32, root=0)", "broadcast(bytes=32, root=1)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    LocalComm comm(n);
    const Clock::time_point start = Clock::now();
    const RankResults results = run_ranks(n, [&](int r) {
      sdk::CommClient comm_rank = comm.rank(r);
      std::vector<float> f(8 * static_cast<size_t>(n), 1.0f), out(9 * static_cast<size_t>(n));
      std::vector<double> d(8, 1.0);
      const bool odd = r == n - 1;
      const std::string call = odd ? c.other : c.rank0;
      if (call == "all_reduce(count=8, F32, SUM)")
        comm_rank.all_reduce(std::span<float>(f.data(), 8), TANDEM_REDUCE_SUM);
      if (call == "all_gather(count=8, F32)")
        comm_rank.all_gather(std::span<const float>(f.data(), 8), std::span<float>(f));
      if (call == "all_reduce(count=9, F32, SUM)")
        comm_rank.all_reduce(std::span<float>(out.data(), 9), TANDEM_REDUCE_SUM);
      if (call == "all_reduce(count=8, F32, MAX)")
        comm_rank.all_reduce(std::span<float>(f.data(), 8), TANDEM_REDUCE_MAX);
      if (call == "all_reduce(count=8, F64, SUM)") comm_rank.all_reduce(std::span<double>(d), TANDEM_REDUCE_SUM);
      if (call == "broadcast(bytes=32, root=0)") comm_rank.broadcast(f.data(), 32, 0);
      if (call == "broadcast(bytes=32, root=1)") comm_rank.broadcast(f.data(), 32, 1);
    });
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 5.0);
    for (int r = 0; r < n; ++r) {
      EXPECT_THAT(results.message(r), HasSubstr("rank 0 called " + c.rank0)) << "rank " << r;
      EXPECT_THAT(results.message(r), HasSubstr("rank " + std::to_string(n - 1) + " called " + c.other))
          << "rank " << r;
    }
    // The group stays failed: nothing after a mismatch can be trusted.
    const RankResults after = run_ranks(n, [&](int r) { comm.rank(r).barrier(); });
    for (int r = 0; r < n; ++r) EXPECT_THAT(after.message(r), HasSubstr("differs between ranks"));
  }
}

TEST_P(LocalCommWorld, TimeoutNamesTheRanksThatDidNotArrive) {
  const int n = GetParam();
  if (n < 2) GTEST_SKIP() << "needs a rank to be missing";
  LocalComm comm(n, 0.3);
  const int missing = n - 1;
  const Clock::time_point start = Clock::now();
  const RankResults results = run_ranks(n, [&](int r) {
    if (r == missing) return;  // stuck elsewhere, as far as the others know
    std::vector<double> x(4, 1.0);
    comm.rank(r).all_reduce(std::span<double>(x), TANDEM_REDUCE_SUM);
  });
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_GE(seconds, 0.25);
  EXPECT_LT(seconds, 5.0);
  for (int r = 0; r < missing; ++r) {
    EXPECT_THAT(results.message(r), HasSubstr("rank " + std::to_string(missing) + ", which did not arrive"));
    EXPECT_THAT(results.message(r), HasSubstr("all_reduce(count=4, F64, SUM)"));
  }
  // The late rank learns why when it arrives.
  EXPECT_THAT([&] { comm.rank(missing).barrier(); },
              ::testing::ThrowsMessage<std::runtime_error>(HasSubstr("which did not arrive")));
}

INSTANTIATE_TEST_SUITE_P(Ranks, LocalCommWorld, ::testing::Values(1, 2, 3, 4),
                         [](const ::testing::TestParamInfo<int>& info) { return "N" + std::to_string(info.param); });

// ---- Single cases ---------------------------------------------------------------------------

TEST(LocalComm, AverageIsTheSumTimesTheReciprocal) {
  // With 3 ranks, x/3 and x*(1/3) differ for some x: the multiply is the documented rule.
  const int n = 3;
  LocalComm comm(n);
  const size_t count = 4096;
  std::vector<std::vector<float>> inputs(n), buffers;
  for (int r = 0; r < n; ++r)
    inputs[static_cast<size_t>(r)] = random_values<float>(count, 900 + static_cast<uint64_t>(r));
  buffers = inputs;
  ASSERT_TRUE(run_ranks(n, [&](int r) {
                comm.rank(r).all_reduce(std::span<float>(buffers[static_cast<size_t>(r)]), TANDEM_REDUCE_AVERAGE);
              }).all_ok());
  size_t differ_from_division = 0;
  for (size_t i = 0; i < count; ++i) {
    const float sum = (inputs[0][i] + inputs[1][i]) + inputs[2][i];
    ASSERT_EQ(std::bit_cast<uint32_t>(buffers[0][i]), std::bit_cast<uint32_t>(sum * (1.0f / 3.0f))) << i;
    if (sum / 3.0f != sum * (1.0f / 3.0f)) ++differ_from_division;
  }
  EXPECT_GT(differ_from_division, 0u) << "the data cannot tell a multiply from a division";
}

TEST(LocalComm, OrderOfTheSumIsVisibleInTheData) {
  // Guards the determinism tests: with this data a different order gives different bits.
  const std::vector<float> a = random_values<float>(1000, 1), b = random_values<float>(1000, 2),
                           c = random_values<float>(1000, 3);
  size_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += ((a[i] + b[i]) + c[i]) != ((c[i] + b[i]) + a[i]);
  EXPECT_GT(differ, 10u);
}

TEST(LocalComm, NaNPropagatesThroughSumAndMax) {
  const int n = 3;
  for (tandem_reduce_op op : {TANDEM_REDUCE_SUM, TANDEM_REDUCE_MAX}) {
    LocalComm comm(n);
    std::vector<std::vector<float>> buffers(n, std::vector<float>{1.0f, 2.0f, 3.0f});
    buffers[1][1] = std::numeric_limits<float>::quiet_NaN();  // a middle rank: MAX must not drop it
    buffers[0][2] = std::numeric_limits<float>::quiet_NaN();  // rank 0: the start of the scan
    ASSERT_TRUE(run_ranks(n, [&](int r) {
                  comm.rank(r).all_reduce(std::span<float>(buffers[static_cast<size_t>(r)]), op);
                }).all_ok());
    for (int r = 0; r < n; ++r) {
      EXPECT_FALSE(std::isnan(buffers[static_cast<size_t>(r)][0]));
      EXPECT_TRUE(std::isnan(buffers[static_cast<size_t>(r)][1]));
      EXPECT_TRUE(std::isnan(buffers[static_cast<size_t>(r)][2]));
    }
  }
}

TEST(LocalComm, RefusesBadArgumentsWithTheRightStatus) {
  LocalComm comm(2);
  const tandem_comm_vtable* vt = comm.vtable();
  void* self = comm.instance.handle();
  EXPECT_EQ(vt->world_size(self), 2);
  EXPECT_EQ(vt->local_rank_count(self), 2);
  EXPECT_EQ(vt->first_rank(self), 0);
  std::vector<uint16_t> bf16(4);
  sdk::ErrorBuffer e1, e2, e3, e4, e5;
  EXPECT_EQ(vt->all_reduce(self, 0, bf16.data(), 4, TANDEM_DTYPE_BF16, TANDEM_REDUCE_SUM, e1.get()),
            TANDEM_STATUS_UNSUPPORTED);
  EXPECT_THAT(e1.message(), HasSubstr("reduces F32 and F64; got BF16"));
  EXPECT_EQ(vt->barrier(self, 2, e2.get()), TANDEM_STATUS_INVALID_ARGUMENT);
  EXPECT_THAT(e2.message(), HasSubstr("local rank 2 is not in [0, 2)"));
  EXPECT_EQ(vt->broadcast(self, 0, bf16.data(), 8, 5, e3.get()), TANDEM_STATUS_INVALID_ARGUMENT);
  EXPECT_THAT(e3.message(), HasSubstr("root 5"));
  EXPECT_EQ(vt->all_reduce(self, 0, nullptr, 4, TANDEM_DTYPE_F32, TANDEM_REDUCE_SUM, e4.get()),
            TANDEM_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(vt->all_reduce(self, 0, bf16.data(), 1, TANDEM_DTYPE_F32, 99, e5.get()), TANDEM_STATUS_INVALID_ARGUMENT);
  // None of these reached the rendezvous: the group still works.
  ASSERT_TRUE(run_ranks(2, [&](int r) { comm.rank(r).barrier(); }).all_ok());
}

TEST(LocalComm, SameBufferFromTwoRanksIsRefused) {
  LocalComm comm(2);
  std::vector<float> shared(6, 1.0f);
  const RankResults results =
      run_ranks(2, [&](int r) { comm.rank(r).all_reduce(std::span<float>(shared), TANDEM_REDUCE_SUM); });
  for (int r = 0; r < 2; ++r) EXPECT_THAT(results.message(r), HasSubstr("ranks 0 and 1 passed the same buffer"));
}

TEST(LocalComm, TwoThreadsForOneRankAreRefused) {
  LocalComm comm(2);
  std::atomic<int> refused{0};
  const RankResults results = run_ranks(3, [&](int thread) {
    if (thread == 2) {  // rank 1, last: releases whichever rank-0 thread is waiting
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      comm.rank(1).barrier();
      return;
    }
    if (thread == 1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    try {
      comm.rank(0).barrier();
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), HasSubstr("while already inside barrier()"));
      refused.fetch_add(1);
    }
  });
  EXPECT_TRUE(results.all_ok()) << results.summary();
  EXPECT_EQ(refused.load(), 1);
}

TEST(LocalComm, ManyCollectivesInARowStayInStep) {
  // Fast ranks enter the next collective while slow ones are still leaving the last one: 300 mixed
  // collectives with 4 ranks, each result checked.
  const int n = 4;
  LocalComm comm(n);
  std::atomic<int> wrong{0};
  const RankResults results = run_ranks(n, [&](int r) {
    sdk::CommClient c = comm.rank(r);
    for (int i = 0; i < 300; ++i) {
      switch (i % 4) {
        case 0: {
          std::vector<double> x(17, static_cast<double>(r + i));
          c.all_reduce(std::span<double>(x), TANDEM_REDUCE_SUM);
          const double want = ((static_cast<double>(i) + (1 + i)) + (2 + i)) + (3 + i);
          for (double v : x) wrong += v != want;
          break;
        }
        case 1: {
          std::vector<int64_t> out(static_cast<size_t>(n));
          const int64_t mine = r * 1000 + i;
          c.all_gather(std::span<const int64_t>(&mine, 1), std::span<int64_t>(out));
          for (int k = 0; k < n; ++k) wrong += out[static_cast<size_t>(k)] != k * 1000 + i;
          break;
        }
        case 2: {
          int32_t value = r == i % n ? i : -1;
          c.broadcast(&value, sizeof(value), i % n);
          wrong += value != i;
          break;
        }
        default:
          c.barrier();
      }
    }
  });
  ASSERT_TRUE(results.all_ok()) << results.summary();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(LocalComm, SchemaRefusesAnEmptyWorldAndAZeroTimeout) {
  EXPECT_STREQ(tandem_module_descriptor_local()->name, "local");
  EXPECT_EQ(tandem_module_descriptor_local()->kind, static_cast<uint32_t>(TANDEM_KIND_COMM));
  EXPECT_THAT([] { StaticInstance(tandem_module_descriptor_local(), R"({"world_size": 0})"); },
              ::testing::ThrowsMessage<ModuleError>(HasSubstr("world_size: out of range")));
  EXPECT_THAT([] { StaticInstance(tandem_module_descriptor_local(), R"({"timeout_seconds": 0})"); },
              ::testing::ThrowsMessage<ModuleError>(HasSubstr("timeout_seconds: out of range")));
  StaticInstance defaults(tandem_module_descriptor_local(), "{}");
  EXPECT_EQ(defaults.vtable<tandem_comm_vtable>()->world_size(defaults.handle()), 1);
}

}  // namespace
}  // namespace tandem::test

namespace tandem::test {
namespace {

TEST(LocalComm, LoadsAsASharedModuleAndReduces) {
  ModuleRegistry registry;
  registry.load_file(std::string(TANDEM_TEST_MODULE_DIR) + "/libtandem-comm-local.so");
  ASSERT_TRUE(registry.refusals().empty()) << registry.refusals().front().message();
  const ModuleInfo& info = registry.get(ModuleKind::Comm, "local");
  const json::Document params = json::parse(R"({"world_size": 3})");
  const std::shared_ptr<ModuleInstance> comm = registry.create(info, &params.root, params.source, "test.comm");
  std::vector<std::vector<double>> buffers{{1.0, 2.0}, {10.0, 20.0}, {100.0, 200.0}};
  const RankResults results = run_ranks(3, [&](int r) {
    sdk::CommClient(comm->handle(), &comm->vtable<tandem_comm_vtable>(), r)
        .all_reduce(std::span<double>(buffers[static_cast<size_t>(r)]), TANDEM_REDUCE_SUM);
  });
  ASSERT_TRUE(results.all_ok()) << results.summary();
  for (const auto& b : buffers) EXPECT_EQ(b, (std::vector<double>{111.0, 222.0}));
}

}  // namespace
}  // namespace tandem::test
