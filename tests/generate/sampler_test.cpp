// The sampler (tandem/generate.hpp) on hand-made logits against references computed here in double:
// temperature, top-k, top-p keeping the smallest set whose mass reaches p, greedy and its ties, and
// the draws' frequencies.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "tandem/generate.hpp"

namespace tandem {
namespace {

// softmax(logits / t) over the ids `keep`, zero elsewhere.
std::vector<double> softmax_over(const std::vector<float>& logits, double t, const std::vector<size_t>& keep) {
  std::vector<double> p(logits.size(), 0.0);
  double sum = 0;
  for (size_t i : keep) sum += std::exp(static_cast<double>(logits[i]) / t);
  for (size_t i : keep) p[i] = std::exp(static_cast<double>(logits[i]) / t) / sum;
  return p;
}

std::vector<size_t> all_ids(size_t n) {
  std::vector<size_t> ids(n);
  std::iota(ids.begin(), ids.end(), size_t{0});
  return ids;
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << "id " << i;
}

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 4.0f, -1.0f, 0.5f};

TEST(Sampler, TemperatureAloneIsTheSoftmaxOfTheScaledLogits) {
  for (double t : {0.5, 1.0, 2.0})
    expect_near(sampling_distribution(kLogits, {.temperature = t}), softmax_over(kLogits, t, all_ids(kLogits.size())));
}

TEST(Sampler, TopKKeepsTheKMostLikelyRenormalised) {
  expect_near(sampling_distribution(kLogits, {.temperature = 0.7, .top_k = 2}), softmax_over(kLogits, 0.7, {3, 1}));
  expect_near(sampling_distribution(kLogits, {.top_k = 100}), softmax_over(kLogits, 1.0, all_ids(kLogits.size())));
}

TEST(Sampler, TopPKeepsTheSmallestSetWhoseMassReachesP) {
  // The reference: the full softmax sorted, the shortest prefix with mass >= p.
  const std::vector<double> full = softmax_over(kLogits, 1.0, all_ids(kLogits.size()));
  std::vector<size_t> order = all_ids(kLogits.size());
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return full[a] > full[b]; });
  for (double p : {0.1, 0.5, 0.64, 0.7, 0.9, 0.99, 0.999999}) {
    std::vector<size_t> keep;
    double mass = 0;
    for (size_t id : order) {
      keep.push_back(id);
      mass += full[id];
      if (mass >= p) break;
    }
    const std::vector<double> got = sampling_distribution(kLogits, {.top_p = p});
    expect_near(got, softmax_over(kLogits, 1.0, keep));
    // Smallest: without its least likely member the kept set falls short of p.
    double without_last = 0;
    for (size_t i = 0; i + 1 < keep.size(); ++i) without_last += full[keep[i]];
    EXPECT_LT(without_last, p) << "p " << p;
    EXPECT_GE(mass, p) << "p " << p;
  }
  // The first token's probability (0.629) reaches 0.6 alone: one token, probability 1.
  const std::vector<double> one = sampling_distribution(kLogits, {.top_p = 0.6});
  EXPECT_EQ(one[3], 1.0);
  EXPECT_EQ(std::count(one.begin(), one.end(), 0.0), 5);
}

TEST(Sampler, TopPAppliesToTheTopKSetRenormalised) {
  // top_k 3 leaves ids 3, 1, 2 with 0.665, 0.245, 0.090: top_p 0.9 is reached by two (0.665 + 0.245 = 0.910)
  // and 0.95 needs all three.
  const std::vector<double> three = softmax_over(kLogits, 1.0, {3, 1, 2});
  EXPECT_NEAR(three[3] + three[1], 0.90997, 1e-5);
  expect_near(sampling_distribution(kLogits, {.top_k = 3, .top_p = 0.9}), softmax_over(kLogits, 1.0, {3, 1}));
  expect_near(sampling_distribution(kLogits, {.top_k = 3, .top_p = 0.95}), three);
}

TEST(Sampler, GreedyAndTopKOneTakeTheMostLikelyTheLowerIdOnTies) {
  const std::vector<float> tied = {0.5f, 2.0f, 2.0f, 1.0f};
  for (const SamplingOptions& o : {SamplingOptions{.temperature = 0}, SamplingOptions{.top_k = 1, .seed = 99}}) {
    Sampler s(o);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(s.next(tied), 1);
    EXPECT_EQ(Sampler(o).next(kLogits), 3);
  }
}

TEST(Sampler, DrawsFollowTheDistributionAndASeedRepeats) {
  const SamplingOptions o{.temperature = 1.3, .top_k = 4, .seed = 5};
  const std::vector<double> p = sampling_distribution(kLogits, o);
  Sampler a(o), b(o), other({.temperature = 1.3, .top_k = 4, .seed = 6});
  std::vector<int> counts(kLogits.size(), 0);
  const int n = 40000;
  bool differs = false;
  for (int i = 0; i < n; ++i) {
    const int32_t t = a.next(kLogits);
    ASSERT_EQ(t, b.next(kLogits)) << "draw " << i;
    differs |= t != other.next(kLogits);
    ++counts[static_cast<size_t>(t)];
  }
  EXPECT_TRUE(differs);
  for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(counts[i] / double(n), p[i], 0.01) << "id " << i;
  EXPECT_EQ(counts[4] + counts[5], 0);  // outside the top 4: never drawn
}

TEST(Sampler, RefusesOptionsOutOfRangeByName) {
  auto message = [](const SamplingOptions& o) {
    try {
      check_sampling_options(o);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({.temperature = -1}).find("--temperature"), std::string::npos);
  EXPECT_NE(message({.top_k = -2}).find("--top-k"), std::string::npos);
  EXPECT_NE(message({.top_p = 0}).find("--top-p"), std::string::npos);
  EXPECT_NE(message({.top_p = 1.5}).find("--top-p"), std::string::npos);
  EXPECT_THROW(sampling_distribution(std::vector<float>{NAN, 1.0f}, {}), std::invalid_argument);
}

}  // namespace
}  // namespace tandem
