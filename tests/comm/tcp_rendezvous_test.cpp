// The TCP rendezvous the nccl communicator meets through (modules/comm/nccl/tcp_rendezvous.hpp), on
// this machine's loopback with ranks as threads: every rank gets rank 0's blob; a rank that never
// comes, a rank 0 that is not there, a duplicate rank, a world size that differs and a stranger on
// the port all end in an error that says which, within the timeout. Then the watch over the links it
// leaves: live ranks and goodbyes report nothing; a rank that stops answering, or dies, is named on
// every rank (rank 0 tells the others); rank 0's death is named by the others.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "../common/free_port.hpp"
#include "../common/thread_ranks.hpp"
#include "tcp_rendezvous.hpp"

namespace tandem::rendezvous {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

using test::free_port;

const std::vector<uint8_t> kBlob = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

TEST(TcpRendezvous, EveryRankGetsRankZerosBlob) {
  const Endpoint at{"127.0.0.1", free_port()};
  std::vector<std::vector<uint8_t>> got(4);
  const test::RankResults r = test::run_ranks(4, [&](int rank) {
    if (rank == 0)
      serve(at, 4, kBlob, 10s);
    else
      got[static_cast<size_t>(rank)] = join(at, rank, 4, kBlob.size(), 10s);
  });
  ASSERT_TRUE(r.all_ok()) << r.summary();
  for (int rank = 1; rank < 4; ++rank) EXPECT_EQ(got[static_cast<size_t>(rank)], kBlob) << "rank " << rank;
}

TEST(TcpRendezvous, RanksMayArriveBeforeRankZeroListens) {
  const Endpoint at{"localhost", free_port()};
  std::vector<uint8_t> got;
  const test::RankResults r = test::run_ranks(2, [&](int rank) {
    if (rank == 0) {
      std::this_thread::sleep_for(400ms);  // rank 1 retries meanwhile
      serve(at, 2, kBlob, 10s);
    } else {
      got = join(at, 1, 2, kBlob.size(), 10s);
    }
  });
  ASSERT_TRUE(r.all_ok()) << r.summary();
  EXPECT_EQ(got, kBlob);
}

TEST(TcpRendezvous, AMissingRankIsNamedOnRankZeroAndOnTheRanksThatCame) {
  const Endpoint at{"127.0.0.1", free_port()};
  const auto t0 = std::chrono::steady_clock::now();
  const test::RankResults r = test::run_ranks(2, [&](int rank) {  // a world of 4: ranks 2 and 3 never come
    if (rank == 0)
      serve(at, 4, kBlob, 800ms);
    else
      join(at, 1, 4, kBlob.size(), 800ms);
  });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "bounded by the timeout";
  EXPECT_THAT(r.message(0), HasSubstr("ranks 2, 3 of 4 did not arrive"));
  EXPECT_THAT(r.message(1), HasSubstr("rank 0 refused rank 1: ranks 2, 3 of 4 did not arrive"));
}

TEST(TcpRendezvous, AnAbsentRankZeroIsNamedWithItsAddress) {
  const Endpoint at{"127.0.0.1", free_port()};
  try {
    join(at, 1, 2, kBlob.size(), 500ms);
    FAIL() << "joined nobody";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("rank 1 could not reach rank 0 at 127.0.0.1:" + std::to_string(at.port)));
    EXPECT_THAT(e.what(), HasSubstr("MASTER_ADDR:MASTER_PORT"));
  }
}

TEST(TcpRendezvous, AnUnresolvableAddressSaysSo) {
  try {
    join(Endpoint{"no-such-host.invalid", 29500}, 1, 2, kBlob.size(), 300ms);
    FAIL() << "joined an unresolvable host";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot resolve MASTER_ADDR"));
  }
}

TEST(TcpRendezvous, ADuplicateRankIsRefusedAndTheOthersStillMeet) {
  const Endpoint at{"127.0.0.1", free_port()};
  // A world of 3: rank 1, then a second "rank 1", then rank 2.
  const test::RankResults r = test::run_ranks(4, [&](int thread) {
    if (thread == 0) return serve(at, 3, kBlob, 5s);
    std::this_thread::sleep_for(std::chrono::milliseconds(200 * (thread - 1)));
    join(at, thread == 3 ? 2 : 1, 3, kBlob.size(), 3s);
  });
  EXPECT_TRUE(r.ok(0)) << r.summary();
  EXPECT_TRUE(r.ok(1)) << r.summary();
  EXPECT_TRUE(r.ok(3)) << r.summary();
  EXPECT_THAT(r.message(2), HasSubstr("rank 0 refused rank 1: a second process says it is rank 1"));
}

TEST(TcpRendezvous, AWorldSizeThatDiffersEndsBothSides) {
  const Endpoint at{"127.0.0.1", free_port()};
  const test::RankResults r = test::run_ranks(2, [&](int rank) {
    if (rank == 0)
      serve(at, 2, kBlob, 5s);
    else
      join(at, 1, 3, kBlob.size(), 5s);
  });
  EXPECT_THAT(r.message(0), HasSubstr("WORLD_SIZE 3 differs from rank 0's 2"));
  EXPECT_THAT(r.message(1), HasSubstr("WORLD_SIZE 3 differs from rank 0's 2"));
}

TEST(TcpRendezvous, AStrangerOnThePortIsIgnored) {
  const Endpoint at{"127.0.0.1", free_port()};
  std::vector<uint8_t> got;
  const test::RankResults r = test::run_ranks(3, [&](int rank) {
    if (rank == 0) {
      serve(at, 2, kBlob, 5s);
    } else if (rank == 1) {  // connects, says something else, leaves
      std::this_thread::sleep_for(100ms);
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(at.port);
      ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
      const char junk[] = "GET / HTTP/1.0\r\n\r\n";
      ASSERT_GT(::send(fd, junk, sizeof junk, 0), 0);
      ::close(fd);
    } else {
      std::this_thread::sleep_for(300ms);
      got = join(at, 1, 2, kBlob.size(), 5s);
    }
  });
  ASSERT_TRUE(r.all_ok()) << r.summary();
  EXPECT_EQ(got, kBlob);
}

}  // namespace
}  // namespace tandem::rendezvous

namespace tandem::rendezvous {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// What a rank's watch reported: the lost rank and why, once.
struct Report {
  std::mutex mutex;
  std::condition_variable changed;
  int32_t rank = -2;
  std::string why;
  int calls = 0;
  void operator()(int32_t r, const std::string& w) {
    const std::lock_guard<std::mutex> lock(mutex);
    rank = r;
    why = w;
    ++calls;
    changed.notify_all();
  }
  bool wait(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, limit, [&] { return calls > 0; });
  }
};

// `world` ranks meet (threads), each with its links kept.
std::vector<Links> meet(int world) {
  const Endpoint at{"127.0.0.1", test::free_port()};
  std::vector<Links> links(static_cast<size_t>(world));
  const test::RankResults r = test::run_ranks(world, [&](int rank) {
    if (rank == 0)
      serve(at, world, kBlob, 10s, &links[0]);
    else
      join(at, rank, world, kBlob.size(), 10s, &links[static_cast<size_t>(rank)]);
  });
  EXPECT_TRUE(r.all_ok()) << r.summary();
  return links;
}

// Starts rank r's watch over its links (a heartbeat every 20 ms); what it loses goes to reports[r].
std::unique_ptr<Watch> watch(std::vector<Links>& links, std::vector<Report>& reports, int r,
                             std::chrono::milliseconds timeout) {
  const auto i = static_cast<size_t>(r);
  return std::make_unique<Watch>(std::move(links[i]), r, 20ms, timeout, std::ref(reports[i]));
}

TEST(RankWatch, LiveRanksReportNothingAndGoodbyesAreNoLoss) {
  std::vector<Links> links = meet(3);
  std::vector<Report> reports(3);
  {
    std::vector<std::unique_ptr<Watch>> watches;
    for (int r = 0; r < 3; ++r)
      watches.push_back(watch(links, reports, r, 1s));
    std::this_thread::sleep_for(2500ms);  // longer than the timeout: only the heartbeats keep the ranks alive
    // Each destructor says goodbye: rank 2 leaving first must not count as losing it.
    watches.pop_back();
    std::this_thread::sleep_for(500ms);
  }
  for (int r = 0; r < 3; ++r) EXPECT_EQ(reports[static_cast<size_t>(r)].calls, 0) << "rank " << r << ": " << reports[static_cast<size_t>(r)].why;
}

TEST(RankWatch, ARankThatStopsAnsweringIsNamedOnEveryRank) {
  std::vector<Links> links = meet(3);
  std::vector<Report> reports(3);
  std::vector<std::unique_ptr<Watch>> watches;
  for (int r = 0; r < 3; ++r)
    watches.push_back(watch(links, reports, r, 1s));
  const auto t0 = std::chrono::steady_clock::now();
  watches[2]->stop_heartbeats();  // rank 2 hangs
  ASSERT_TRUE(reports[0].wait(10s));
  ASSERT_TRUE(reports[1].wait(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s) << "within the timeout, give or take";
  EXPECT_EQ(reports[0].rank, 2);
  EXPECT_THAT(reports[0].why, HasSubstr("stopped answering (no heartbeat for 1"));
  EXPECT_EQ(reports[1].rank, 2) << "rank 0 told rank 1 which rank it was";
  EXPECT_THAT(reports[1].why, HasSubstr("rank 0 found it gone"));
  EXPECT_EQ(reports[0].calls, 1);
}

TEST(RankWatch, ARankThatDiesIsNamedAtOnce) {
  std::vector<Links> links = meet(3);
  std::vector<Report> reports(3);
  std::vector<std::unique_ptr<Watch>> watches;
  for (int r = 0; r < 2; ++r)
    watches.push_back(watch(links, reports, r, 10s));
  links[2] = Links();  // rank 2's process ends: its connection closes without a goodbye
  ASSERT_TRUE(reports[0].wait(5s)) << "well before the 10 s timeout";
  EXPECT_EQ(reports[0].rank, 2);
  EXPECT_THAT(reports[0].why, HasSubstr("closed its connection to rank 0"));
  ASSERT_TRUE(reports[1].wait(5s));
  EXPECT_EQ(reports[1].rank, 2);
}

TEST(RankWatch, WhenRankZeroDiesTheOthersNameIt) {
  std::vector<Links> links = meet(3);
  std::vector<Report> reports(3);
  std::vector<std::unique_ptr<Watch>> watches;
  for (int r = 1; r < 3; ++r)
    watches.push_back(watch(links, reports, r, 10s));
  links[0] = Links();
  for (int r = 1; r < 3; ++r) {
    ASSERT_TRUE(reports[static_cast<size_t>(r)].wait(5s)) << "rank " << r;
    EXPECT_EQ(reports[static_cast<size_t>(r)].rank, 0);
    EXPECT_THAT(reports[static_cast<size_t>(r)].why, HasSubstr("closed its connection to rank " + std::to_string(r)));
  }
}

}  // namespace
}  // namespace tandem::rendezvous
