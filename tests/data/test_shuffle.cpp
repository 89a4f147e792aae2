// The shuffling contract: SplitMix64 against its published reference outputs, and epoch orders against
// values computed independently (a Python transcription of the algorithm documented in data.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "tandem/data.hpp"

namespace data = tandem::data;

TEST(Shuffle, SplitMix64ReferenceOutputs) {
  data::SplitMix64 zero(0);  // Vigna's splitmix64.c with x = 0
  EXPECT_EQ(zero.next(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(zero.next(), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(zero.next(), 0x06C45D188009454Full);
  data::SplitMix64 r(1234567);  // the vectors used by Java's SplittableRandom and Rust's rand tests
  EXPECT_EQ(r.next(), 6457827717110365317ull);
  EXPECT_EQ(r.next(), 3203168211198807973ull);
  EXPECT_EQ(r.next(), 9817491932198370423ull);
}

TEST(Shuffle, BelowStaysInRangeAndIsRoughlyUniform) {
  data::SplitMix64 r(99);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) {
    const uint64_t x = r.below(7);
    ASSERT_LT(x, 7u);
    ++counts[x];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);  // ~5 standard deviations
  EXPECT_EQ(r.below(1), 0u);
}

TEST(Shuffle, EpochOrdersMatchTheIndependentTranscription) {
  EXPECT_EQ(data::shuffled_order(10, 42, 0), (std::vector<uint32_t>{9, 7, 6, 2, 1, 8, 4, 3, 5, 0}));
  EXPECT_EQ(data::shuffled_order(10, 42, 1), (std::vector<uint32_t>{5, 0, 2, 9, 1, 7, 8, 6, 4, 3}));
  EXPECT_EQ(data::shuffled_order(16, 2024, 3),
            (std::vector<uint32_t>{1, 15, 9, 7, 13, 3, 12, 8, 10, 11, 14, 2, 0, 4, 5, 6}));
  EXPECT_TRUE(data::shuffled_order(0, 1, 0).empty());
  EXPECT_EQ(data::shuffled_order(1, 1, 0), std::vector<uint32_t>{0});
}

TEST(Shuffle, OrdersArePermutationsThatDependOnSeedAndEpoch) {
  const std::vector<uint32_t> a = data::shuffled_order(1000, 1, 0);
  std::vector<uint32_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<uint32_t> identity(1000);
  std::iota(identity.begin(), identity.end(), 0u);
  EXPECT_EQ(sorted, identity);
  EXPECT_EQ(a, data::shuffled_order(1000, 1, 0));
  EXPECT_NE(a, data::shuffled_order(1000, 2, 0));
  EXPECT_NE(a, data::shuffled_order(1000, 1, 1));
  EXPECT_NE(a, identity);
}

TEST(Shuffle, EveryPositionIsEquallyLikely) {
  // Over many seeds, item i lands in each of 4 positions about equally often (a biased Fisher-Yates,
  // e.g. swapping with below(n), fails this).
  int counts[4][4] = {};
  for (uint64_t seed = 0; seed < 24000; ++seed) {
    const std::vector<uint32_t> o = data::shuffled_order(4, seed, 0);
    for (int pos = 0; pos < 4; ++pos) ++counts[o[static_cast<size_t>(pos)]][pos];
  }
  for (auto& row : counts)
    for (int c : row) EXPECT_NEAR(c, 6000, 350);
}
