// The ZeRO-3 inference engine: a stage-3 config with no optimizer gives a forward-only engine whose
// parameters are sharded, which loads the weights of a checkpoint saved by a training engine (under
// any stage and world size) and computes the same logits as ZeRO-0 on those weights, bit for bit.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "stage_support.hpp"

namespace tandem::test {
namespace {

constexpr uint64_t F = sizeof(float);

// A checkpoint of a trained model, so that the weights differ from any engine's initial ones.
std::filesystem::path trained_checkpoint(const std::string& name) {
  const std::filesystem::path dir = temp_dir(name);
  Prepared trainer = prepare_run(StageRun{2, 1, 0.05}, 2);
  Trace t;
  train(*trainer.engine(), 1, 0, 3, t);
  trainer.engine()->save(dir);
  return dir;
}

std::vector<TokenBatch> eval_batches(int64_t world) { return batches_for(world, 77, 0); }

using InferenceParam = std::tuple<int64_t /*world*/, int /*persistence threshold*/>;

class ZeroThreeInference : public ::testing::TestWithParam<InferenceParam> {};

TEST_P(ZeroThreeInference, ForwardOnlyShardedAndEqualToZeroZero) {
  const auto [world, threshold] = GetParam();
  const std::filesystem::path dir =
      trained_checkpoint("zero3-inference-" + std::to_string(world) + "-" + std::to_string(threshold));
  const std::string zero3 = R"(, "stage3_param_persistence_threshold": )" + std::to_string(threshold) +
                            R"(, "stage3_prefetch_bucket_size": 300, "stage3_max_live_parameters": 700)";
  Prepared reference = prepare_run(StageRun{0, 1, 0.05, "", /*optimizer=*/false}, world, 5);
  Prepared sharded = prepare_run(StageRun{3, 1, 0.05, zero3, /*optimizer=*/false}, world, 5);
  Engine& e = *sharded.engine();
  EXPECT_FALSE(e.trains());
  reference.engine()->load(dir, /*with_optimizer=*/false);
  e.load(dir, /*with_optimizer=*/false);
  expect_bitwise_equal(e.parameters(), reference.engine()->parameters());

  // Two forwards each (the second one prefetches along the first one's order).
  const std::vector<TokenBatch> batches = eval_batches(world);
  for (int pass = 0; pass < 2; ++pass) {
    const Logits expected = reference.engine()->forward(batches, false);
    const Logits logits = e.forward(batches, false);
    const size_t n = static_cast<size_t>(logits.batch * logits.seq * logits.vocab);
    ASSERT_EQ(logits.per_rank.size(), static_cast<size_t>(world));
    for (size_t r = 0; r < logits.per_rank.size(); ++r)
      EXPECT_EQ(std::memcmp(logits.per_rank[r], expected.per_rank[r], n * sizeof(float)), 0) << "rank " << r;
  }
  EXPECT_EQ(e.evaluate({eval_batches(world)}), reference.engine()->evaluate({eval_batches(world)}));
  EXPECT_THROW(e.forward(batches, true), std::invalid_argument);  // no training without an optimizer

  // Sharded: each rank holds its shard and the persistent parameters, no gradients, no optimizer.
  const ExpectedLayout layout(e, world);
  size_t persistent = 0, gathered = 0;
  for (const ExpectedLayout::Param& p : layout.params)
    (p.numel <= static_cast<size_t>(threshold) ? persistent : gathered) += p.numel;
  for (const tandem_stage_memory& m : e.memory()) {
    EXPECT_EQ(m.param_bytes, F * (layout.shard + persistent));
    EXPECT_EQ(m.grad_bytes, 0u);
    EXPECT_EQ(m.master_bytes, 0u);
    EXPECT_EQ(m.optimizer_state_bytes, 0u);
    EXPECT_LE(m.peak_gathered_bytes, F * gathered);
    if (gathered > 0) {
      EXPECT_GT(m.peak_gathered_bytes, 0u);
    }
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Worlds, ZeroThreeInference,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4), ::testing::Values(0, 20, 1000000)),
                         [](const ::testing::TestParamInfo<InferenceParam>& info) {
                           return "world" + std::to_string(std::get<0>(info.param)) + "_persist" +
                                  std::to_string(std::get<1>(info.param));
                         });

TEST(ZeroThreeInference, LoadingWithTheOptimizerFlagStillLoadsTheWeightsAlone) {
  // An engine without an optimizer has no optimizer state to restore: load() takes the weights.
  const std::filesystem::path dir = trained_checkpoint("zero3-inference-flag");
  Prepared sharded = prepare_run(StageRun{3, 1, 0.05, R"(, "stage3_param_persistence_threshold": 0)", false}, 3);
  sharded.engine()->load(dir);
  Prepared reference = prepare_run(StageRun{0, 1, 0.05, "", false}, 3);
  reference.engine()->load(dir, false);
  expect_bitwise_equal(sharded.engine()->parameters(), reference.engine()->parameters());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tandem::test
