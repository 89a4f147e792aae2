// DataLoader: windows and targets, per-rank shards, the validation split, determinism, and exact resume.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "tandem/data.hpp"

namespace data = tandem::data;

namespace {

// Token i is i mod 65521 (a prime < 2^16): a row's first input tells where its window starts, and the
// whole batch can be checked against the stream position by position.
std::shared_ptr<const data::Tokens> counting_tokens(size_t n) {
  auto t = std::make_shared<data::Tokens>();
  t->source = "counting";
  t->format = data::TokenFormat::Raw;
  t->ids.resize(n);
  for (size_t i = 0; i < n; ++i) t->ids[i] = static_cast<uint16_t>(i % 65521);
  return t;
}

data::LoaderConfig config(int64_t T, int64_t B, int rank, int world, uint64_t seed, double val) {
  data::LoaderConfig c;
  c.block_size = T;
  c.micro_batch = B;
  c.rank = rank;
  c.world_size = world;
  c.seed = seed;
  c.val_fraction = val;
  return c;
}

// Checks `b` against the stream: row r is tokens [rows[r], rows[r] + T] (inputs, then targets shifted).
void expect_rows(const data::Tokens& tokens, const data::Batch& b, const std::vector<uint64_t>& rows) {
  ASSERT_EQ(static_cast<size_t>(b.batch), rows.size());
  for (int64_t r = 0; r < b.batch; ++r)
    for (int64_t t = 0; t < b.block; ++t) {
      ASSERT_EQ(b.input(r, t), tokens.ids[rows[static_cast<size_t>(r)] + static_cast<uint64_t>(t)]);
      ASSERT_EQ(b.target(r, t), tokens.ids[rows[static_cast<size_t>(r)] + static_cast<uint64_t>(t) + 1]);
    }
}

std::string expect_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const data::DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return "";
}

}  // namespace

TEST(DataLoader, SplitAndWindowCounts) {
  // 10,000 tokens, 5% held out: train [0, 9500), validation [9500, 10000). T = 16: a window needs 17.
  const data::DataLoader l(counting_tokens(10000), config(16, 4, 0, 2, 1, 0.05));
  EXPECT_EQ(l.train_tokens(), 9500u);
  EXPECT_EQ(l.train_windows(), (9500u - 1) / 16);  // 593
  EXPECT_EQ(l.val_windows(), (500u - 1) / 16);      // 31
  EXPECT_EQ(l.steps_per_epoch(), 593u / 8);
  EXPECT_EQ(l.val_batches(), 31u / 8);
}

TEST(DataLoader, BatchesAreWindowsWithShiftedTargets) {
  auto tokens = counting_tokens(5000);
  data::DataLoader l(tokens, config(32, 3, 0, 1, 7, 0.1));
  data::Batch b;
  for (int step = 0; step < 5; ++step) {
    const std::vector<uint64_t> rows = l.train_rows(l.position());
    l.next(b);
    EXPECT_EQ(b.block, 32);
    expect_rows(*tokens, b, rows);
    for (uint64_t r : rows) {
      EXPECT_EQ(r % 32, 0u);               // windows start every T tokens
      EXPECT_LE(r + 32, l.train_tokens() - 1);  // the last target is still in the training split
    }
  }
}

TEST(DataLoader, RanksGetDisjointShardsThatCoverTheEpoch) {
  auto tokens = counting_tokens(20000);
  const int W = 4;
  const int64_t B = 3, T = 8;
  std::vector<data::DataLoader> ranks;
  for (int r = 0; r < W; ++r) ranks.emplace_back(tokens, config(T, B, r, W, 5, 0.05));
  const uint64_t steps = ranks[0].steps_per_epoch();
  for (const data::DataLoader& l : ranks) EXPECT_EQ(l.steps_per_epoch(), steps);

  for (uint64_t epoch = 0; epoch < 2; ++epoch) {
    std::set<uint64_t> seen;
    for (uint64_t s = 0; s < steps; ++s)
      for (int r = 0; r < W; ++r)
        for (uint64_t row : ranks[static_cast<size_t>(r)].train_rows({epoch, s})) {
          EXPECT_TRUE(seen.insert(row).second) << "window at " << row << " given twice in epoch " << epoch;
          EXPECT_LT(row / T, ranks[0].train_windows());
        }
    // Every window but the few left over (fewer than one step's worth) is used once.
    EXPECT_EQ(seen.size(), steps * B * W);
    EXPECT_LT(ranks[0].train_windows() - seen.size(), static_cast<uint64_t>(B * W));
  }
  // Rank r's rows are positions r, r+W, ... of the epoch order.
  const std::vector<uint32_t> order = data::shuffled_order(ranks[0].train_windows(), 5, 1);
  EXPECT_EQ(ranks[2].train_rows({1, 4}),
            (std::vector<uint64_t>{uint64_t{order[(4 * 3 + 0) * 4 + 2]} * T, uint64_t{order[(4 * 3 + 1) * 4 + 2]} * T,
                                   uint64_t{order[(4 * 3 + 2) * 4 + 2]} * T}));
}

TEST(DataLoader, ValidationIsDisjointFixedAndSharded) {
  auto tokens = counting_tokens(40000);
  const int W = 2;
  const int64_t T = 16, B = 2;
  data::DataLoader r0(tokens, config(T, B, 0, W, 3, 0.1));
  data::DataLoader r1(tokens, config(T, B, 1, W, 3, 0.1));
  ASSERT_GT(r0.val_batches(), 0u);
  std::set<uint64_t> val_tokens;
  for (uint64_t i = 0; i < r0.val_batches(); ++i)
    for (const data::DataLoader* l : {&r0, &r1}) {
      data::Batch a, b;
      l->val_batch(i, a);
      l->val_batch(i, b);
      EXPECT_EQ(a.inputs, b.inputs);  // the same every time
      const std::vector<uint64_t> rows = l->val_rows(i);
      expect_rows(*tokens, a, rows);
      for (uint64_t row : rows) {
        EXPECT_GE(row, l->train_tokens());
        EXPECT_LT(row + T, tokens->ids.size());
        for (int64_t t = 0; t <= T; ++t) val_tokens.insert(row + static_cast<uint64_t>(t));
      }
    }
  // No training window (over several epochs, every rank) touches a validation token.
  for (uint64_t epoch = 0; epoch < 3; ++epoch)
    for (uint64_t s = 0; s < r0.steps_per_epoch(); ++s)
      for (const data::DataLoader* l : {&r0, &r1})
        for (uint64_t row : l->train_rows({epoch, s})) {
          EXPECT_LE(row + T, r0.train_tokens() - 1);
          const auto first_at_or_after = val_tokens.lower_bound(row);
          EXPECT_TRUE(first_at_or_after == val_tokens.end() || *first_at_or_after > row + T) << row;
        }
  // The two ranks' validation rows differ.
  EXPECT_NE(r0.val_rows(0), r1.val_rows(0));
}

TEST(DataLoader, DeterministicForASeedAndDifferentAcrossSeedsAndEpochs) {
  auto tokens = counting_tokens(30000);
  data::DataLoader a(tokens, config(16, 4, 1, 2, 11, 0.05));
  data::DataLoader b(tokens, config(16, 4, 1, 2, 11, 0.05));
  data::DataLoader c(tokens, config(16, 4, 1, 2, 12, 0.05));
  data::Batch ba, bb, bc;
  bool differs = false;
  for (int i = 0; i < 20; ++i) {
    a.next(ba);
    b.next(bb);
    c.next(bc);
    EXPECT_EQ(ba.inputs, bb.inputs);
    EXPECT_EQ(ba.targets, bb.targets);
    differs |= ba.inputs != bc.inputs;
  }
  EXPECT_TRUE(differs);
  EXPECT_NE(a.train_rows({0, 0}), a.train_rows({1, 0}));
}

TEST(DataLoader, WrapsIntoTheNextEpoch) {
  auto tokens = counting_tokens(2000);
  data::DataLoader l(tokens, config(16, 2, 0, 1, 9, 0.0));
  const uint64_t steps = l.steps_per_epoch();
  data::Batch b;
  for (uint64_t s = 0; s < steps - 1; ++s) l.next(b);
  EXPECT_EQ(l.position(), (data::Position{0, steps - 1}));
  l.next(b);
  EXPECT_EQ(l.position(), (data::Position{1, 0}));
  const std::vector<uint64_t> rows = l.train_rows(l.position());
  l.next(b);
  expect_rows(*tokens, b, rows);
  EXPECT_EQ(rows, l.train_rows({1, 0}));
  EXPECT_EQ(l.val_batches(), 0u);  // val_fraction 0: no validation
}

TEST(DataLoader, SaveAndRestoreContinuesBitForBit) {
  auto tokens = counting_tokens(3000);
  const data::LoaderConfig c = config(16, 2, 1, 2, 77, 0.05);
  data::DataLoader original(tokens, c);
  data::Batch b;
  const uint64_t steps = original.steps_per_epoch();
  for (uint64_t i = 0; i < steps + 3; ++i) original.next(b);  // into the second epoch
  // Through text, as a checkpoint would store it.
  const std::string saved = tandem::json::to_string(original.state());
  std::vector<data::Batch> expected(steps + 2);
  for (data::Batch& e : expected) original.next(e);

  data::DataLoader resumed(tokens, c);
  resumed.restore(tandem::json::parse(saved).root);
  EXPECT_EQ(resumed.position(), (data::Position{1, 3}));
  for (const data::Batch& e : expected) {
    resumed.next(b);
    ASSERT_EQ(b.inputs, e.inputs);
    ASSERT_EQ(b.targets, e.targets);
  }
  EXPECT_EQ(resumed.position(), original.position());
}

TEST(DataLoader, RestoreRefusesADifferentSetup) {
  auto tokens = counting_tokens(3000);
  const data::DataLoader saved(tokens, config(16, 2, 0, 2, 77, 0.05));
  const tandem::json::Value state = saved.state();
  data::DataLoader other_seed(tokens, config(16, 2, 0, 2, 78, 0.05));
  EXPECT_NE(expect_error([&] { other_seed.restore(state); }).find("seed = 77, this run 78"), std::string::npos);
  data::DataLoader other_world(tokens, config(16, 2, 0, 1, 77, 0.05));
  EXPECT_NE(expect_error([&] { other_world.restore(state); }).find("world_size = 2, this run 1"), std::string::npos);
  data::DataLoader other_split(tokens, config(16, 2, 0, 2, 77, 0.1));
  EXPECT_NE(expect_error([&] { other_split.restore(state); }).find("train_tokens = 2850, this run 2700"),
            std::string::npos);
  tandem::json::Value bad = state;
  bad.set("step", tandem::json::Value::integer(100000));
  data::DataLoader same(tokens, config(16, 2, 0, 2, 77, 0.05));
  EXPECT_NE(expect_error([&] { same.restore(bad); }).find("cannot seek to step 100000"), std::string::npos);
  bad.erase("epoch");
  EXPECT_NE(expect_error([&] { same.restore(bad); }).find("no \"epoch\""), std::string::npos);
}

TEST(DataLoader, BadSettingsAndTooLittleData) {
  auto tokens = counting_tokens(1000);
  EXPECT_NE(expect_error([&] { data::DataLoader(tokens, config(0, 1, 0, 1, 0, 0)); }).find("block_size must be >= 1"),
            std::string::npos);
  EXPECT_NE(expect_error([&] { data::DataLoader(tokens, config(8, 0, 0, 1, 0, 0)); }).find("micro_batch must be >= 1"),
            std::string::npos);
  EXPECT_NE(expect_error([&] { data::DataLoader(tokens, config(8, 1, 2, 2, 0, 0)); }).find("rank 2 is outside"),
            std::string::npos);
  EXPECT_NE(expect_error([&] { data::DataLoader(tokens, config(8, 1, 0, 1, 0, 1.0)); }).find("val_fraction"),
            std::string::npos);
  // 1000 tokens, T = 100: 9 training windows; B x W = 10 cannot make one step.
  EXPECT_NE(expect_error([&] { data::DataLoader(tokens, config(100, 5, 0, 2, 0, 0)); })
                .find("the training split has 1000 tokens, 9 windows of 101 tokens; one step needs micro_batch x "
                      "world_size = 10"),
            std::string::npos);
  // 1% of 1000 tokens = 10: no validation window of 9 tokens fits... with T = 8: (10-1)/8 = 1 window < B.
  EXPECT_NE(expect_error([&] { data::DataLoader(tokens, config(8, 2, 0, 1, 0, 0.01)); }).find("validation split"),
            std::string::npos);
  data::DataLoader ok(tokens, config(8, 2, 0, 1, 0, 0.05));
  EXPECT_THROW(ok.seek({0, ok.steps_per_epoch()}), data::DataError);
  EXPECT_THROW(ok.val_rows(ok.val_batches()), data::DataError);
}

namespace {

// The windows every rank of a world reads at a position: the step's rows, all ranks together.
std::multiset<uint64_t> step_rows(const std::shared_ptr<const data::Tokens>& tokens, int64_t B, int W,
                                  data::Position p) {
  std::multiset<uint64_t> rows;
  for (int r = 0; r < W; ++r) {
    data::DataLoader l(tokens, config(8, B, r, W, 9, 0.0));
    for (uint64_t row : l.train_rows(p)) rows.insert(row);
  }
  return rows;
}

}  // namespace

TEST(DataLoader, AnotherWorldSizeContinuesAfterTheWindowsTheSavedRunUsed) {
  // Issue 21: a checkpoint resumed at another world size or micro_batch continues with the first
  // window the saved run had not used (the epoch's order is the same; a step uses B*W windows of it).
  const auto tokens = counting_tokens(8 * 400 + 1);
  data::DataLoader saved(tokens, config(8, 2, 0, 2, 9, 0.0));  // 4 windows a step
  saved.seek(data::Position{1, 3});                             // 12 windows of epoch 1 used

  data::DataLoader four(tokens, config(8, 1, 0, 4, 9, 0.0));  // 4 a step: the same steps
  EXPECT_EQ(four.continue_after(saved.state()), 0u);
  EXPECT_EQ(four.position(), (data::Position{1, 3}));
  EXPECT_EQ(step_rows(tokens, 1, 4, {1, 3}), step_rows(tokens, 2, 2, {1, 3})) << "the same windows, other ranks";

  data::DataLoader three(tokens, config(8, 1, 2, 3, 9, 0.0));  // 3 a step: 12 = 4 steps
  EXPECT_EQ(three.continue_after(saved.state()), 0u);
  EXPECT_EQ(three.position(), (data::Position{1, 4}));

  data::DataLoader five(tokens, config(8, 1, 0, 5, 9, 0.0));  // 5 a step: step 3 starts at 15, 3 passed over
  EXPECT_EQ(five.continue_after(saved.state()), 3u);
  EXPECT_EQ(five.position(), (data::Position{1, 3}));

  // The seed, block size and split must still agree.
  data::DataLoader other_seed(tokens, config(8, 1, 0, 4, 10, 0.0));
  EXPECT_NE(expect_error([&] { other_seed.continue_after(saved.state()); }).find("seed = 9, this run 10"),
            std::string::npos);
}
