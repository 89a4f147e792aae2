// What each stage says it holds per rank matches its partitioning, computed here from the flat
// layout (the model's shapes and the world size) and the rules the stages' READMEs state:
//   S = sum over groups of ceil(numel_g / W): the rank's shard; P = the padded whole model.
//   zero1: params P, grads P (the model's micro-step buffer) + S, master S, AdamW state 2 * S
//   zero2: params P, grads S + bucket, master S, AdamW state 2 * S
//   zero3: params S + persistent, grads S + bucket, master 0, AdamW state 2 * S, and the most
//          parameters gathered at once as the prefetch limits allow
// (in fp32 elements; bucket = reduce_bucket_size clamped to [largest parameter, whole model]).
#include <gtest/gtest.h>

#include <algorithm>

#include "stage_support.hpp"

namespace tandem::test {
namespace {

constexpr uint64_t F = sizeof(float);

// One micro-step of training on every rank, so that ZeRO-3's gathering has happened.
void one_micro_step(Engine& e) {
  Trace t;
  train(e, 1, 0, 1, t);
}

size_t bucket_for(const ExpectedLayout& layout, size_t reduce_bucket_size) {
  return std::max(std::min(reduce_bucket_size, layout.total), layout.largest);
}

// DeepSpeed's persistence rule over the model's order.
size_t persistent_elements(const ExpectedLayout& layout, size_t threshold, size_t model_threshold = SIZE_MAX) {
  size_t total = 0;
  for (const ExpectedLayout::Param& p : layout.params)
    if (p.numel <= threshold && total + p.numel <= model_threshold) total += p.numel;
  return total;
}

// Non-persistent elements of each of GPT's five layers.
std::vector<size_t> gathered_per_layer(const ExpectedLayout& layout, size_t threshold) {
  std::vector<size_t> out(5, 0);
  for (const ExpectedLayout::Param& p : layout.params)
    if (p.numel > threshold) out[static_cast<size_t>(p.layer)] += p.numel;
  return out;
}

class StageMemory : public ::testing::TestWithParam<int64_t> {};

TEST_P(StageMemory, ZeroOneHoldsAShardOfTheOptimizerStateAndMasterWeights) {
  const int64_t world = GetParam();
  Prepared p = prepare_run(StageRun{1}, world);
  const ExpectedLayout layout(*p.engine(), world);
  for (const tandem_stage_memory& m : p.engine()->memory()) {
    EXPECT_EQ(m.param_bytes, F * layout.total_padded);
    EXPECT_EQ(m.grad_bytes, F * (layout.total_padded + layout.shard));
    EXPECT_EQ(m.master_bytes, F * layout.shard);
    EXPECT_EQ(m.optimizer_state_bytes, 2 * F * layout.shard);
    EXPECT_EQ(m.peak_gathered_bytes, 0u);
  }
}

TEST_P(StageMemory, ZeroTwoHoldsAShardOfTheGradientsAndOneBucket) {
  const int64_t world = GetParam();
  for (size_t bucket : {size_t{1}, size_t{250}, size_t{500'000'000}}) {
    Prepared p = prepare_run(StageRun{2, 1, 0.05, R"(, "reduce_bucket_size": )" + std::to_string(bucket)}, world);
    const ExpectedLayout layout(*p.engine(), world);
    one_micro_step(*p.engine());
    for (const tandem_stage_memory& m : p.engine()->memory()) {
      EXPECT_EQ(m.param_bytes, F * layout.total_padded);
      EXPECT_EQ(m.grad_bytes, F * (layout.shard + bucket_for(layout, bucket))) << "bucket " << bucket;
      EXPECT_EQ(m.master_bytes, F * layout.shard);
      EXPECT_EQ(m.optimizer_state_bytes, 2 * F * layout.shard);
    }
  }
}

TEST_P(StageMemory, ZeroThreeHoldsAShardOfTheParametersAndThePersistentOnes) {
  const int64_t world = GetParam();
  for (size_t threshold : {size_t{0}, size_t{20}, size_t{1'000'000}}) {
    Prepared p = prepare_run(
        StageRun{3, 1, 0.05, R"(, "stage3_param_persistence_threshold": )" + std::to_string(threshold)}, world);
    const ExpectedLayout layout(*p.engine(), world);
    one_micro_step(*p.engine());
    for (const tandem_stage_memory& m : p.engine()->memory()) {
      EXPECT_EQ(m.param_bytes, F * (layout.shard + persistent_elements(layout, threshold))) << threshold;
      EXPECT_EQ(m.grad_bytes, F * (layout.shard + bucket_for(layout, 500'000'000)));  // DeepSpeed's default
      EXPECT_EQ(m.master_bytes, 0u);
      EXPECT_EQ(m.optimizer_state_bytes, 2 * F * layout.shard);
    }
  }
}

TEST_P(StageMemory, PartitionedOptimizerStateSumsToZeroZerosOverTheRanks) {
  const int64_t world = GetParam();
  Prepared zero0 = prepare_run(StageRun{0}, world);
  const uint64_t whole = zero0.engine()->memory().front().optimizer_state_bytes;
  for (int stage : {1, 2, 3}) {
    Prepared p = prepare_run(StageRun{stage}, world);
    uint64_t sum = 0;
    for (const tandem_stage_memory& m : p.engine()->memory()) {
      EXPECT_EQ(m.optimizer_state_bytes * static_cast<uint64_t>(world), whole) << "every rank holds 1/" << world;
      sum += m.optimizer_state_bytes;
    }
    EXPECT_EQ(sum, whole) << "stage " << stage;
  }
}

INSTANTIATE_TEST_SUITE_P(World, StageMemory, ::testing::Values(1, 2, 3, 4),
                         [](const ::testing::TestParamInfo<int64_t>& info) {
                           return "world" + std::to_string(info.param);
                         });

// The most parameters ZeRO-3 gathers at once, for three prefetch limits. GPT's passes: forward
// acquires the embeddings (layer 0, held through the pass for the tied head), then each block, then
// the final norm; backward acquires the embeddings, the final norm, then the blocks in reverse.
TEST(StageMemory, ZeroThreePrefetchStaysWithinItsLimits) {
  const int64_t world = 2;
  const size_t threshold = 20;  // the vectors persist, the matrices are gathered
  auto peak_of = [&](const std::string& limits) {
    Prepared p = prepare_run(
        StageRun{3, 1, 0.05, R"(, "stage3_param_persistence_threshold": 20)" + limits}, world);
    Trace t;
    train(*p.engine(), 1, 0, 2, t);  // the second forward and backward follow the first ones' order
    const auto m = p.engine()->memory();
    EXPECT_EQ(m.front().peak_gathered_bytes, m.back().peak_gathered_bytes);
    return m.front().peak_gathered_bytes;
  };
  Prepared any = prepare_run(StageRun{3}, world);
  const ExpectedLayout layout(*any.engine(), world);
  const std::vector<size_t> n = gathered_per_layer(layout, threshold);
  ASSERT_EQ(n[1], n[2]);
  ASSERT_EQ(n[2], n[3]);  // equal blocks
  ASSERT_EQ(n[4], 0u);    // the final norm persists
  const size_t block = n[1], all = n[0] + n[1] + n[2] + n[3];

  // No room to prefetch: the embeddings and the one block in use.
  EXPECT_EQ(peak_of(R"(, "stage3_prefetch_bucket_size": 1, "stage3_max_live_parameters": 1)"), F * (n[0] + block));
  // Unlimited: once the pass is recognised (its second layer), everything it will use is gathered.
  EXPECT_EQ(peak_of(R"(, "stage3_prefetch_bucket_size": 1000000000, "stage3_max_live_parameters": 1000000000)"),
            F * all);
  // One block ahead: the embeddings, the block in use and the next one.
  EXPECT_EQ(peak_of(R"(, "stage3_prefetch_bucket_size": )" + std::to_string(block) +
                    R"(, "stage3_max_live_parameters": 1000000000)"),
            F * (n[0] + 2 * block));
  // Everything may be gathered ahead, but no more than the embeddings and two blocks live at once.
  EXPECT_EQ(peak_of(R"(, "stage3_prefetch_bucket_size": 1000000000, "stage3_max_live_parameters": )" +
                    std::to_string(n[0] + 2 * block)),
            F * (n[0] + 2 * block));
}

}  // namespace
}  // namespace tandem::test
