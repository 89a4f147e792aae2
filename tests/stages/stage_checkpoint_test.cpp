// Checkpoints under the partitioned stages: each rank's master shard is its slice of the flat
// layout (offset r * P_g in a buffer padded to W, padding zero), and a run saved after k steps and
// loaded into a fresh engine (other initial weights) continues exactly as the run that never
// stopped: same losses, same final weights, bit for bit.
#include <gtest/gtest.h>

#include <filesystem>

#include "stage_support.hpp"
#include "tandem/safetensors.hpp"

namespace tandem::test {
namespace {

// The saved weights laid out flat: group g's buffer, padded to the world size.
std::vector<std::vector<float>> flat_groups(const ExpectedLayout& layout, const Weights& weights) {
  std::vector<std::vector<float>> groups{std::vector<float>(layout.padded[0], 0.0f),
                                         std::vector<float>(layout.padded[1], 0.0f)};
  for (size_t i = 0; i < weights.size(); ++i) {
    const ExpectedLayout::Param& p = layout.params[i];
    std::copy(weights[i].second.begin(), weights[i].second.end(), groups[p.group].begin() + static_cast<long>(p.offset));
  }
  return groups;
}

using ResumeParam = std::tuple<int /*stage*/, int64_t /*world*/>;

class StageCheckpoint : public ::testing::TestWithParam<ResumeParam> {};

TEST_P(StageCheckpoint, MasterShardsAreTheRanksSlicesAndResumeIsBitExact) {
  const auto [stage, world] = GetParam();
  const int gas = 2;
  const StageRun config{stage, gas, 0.05,
                        stage == 3 ? R"(, "stage3_param_persistence_threshold": 20, "reduce_bucket_size": 300)"
                                   : R"(, "reduce_bucket_size": 300)"};
  const std::filesystem::path dir =
      temp_dir("stage-resume-" + std::to_string(stage) + "-" + std::to_string(world));

  Prepared whole = prepare_run(config, world);
  Trace expected;
  train(*whole.engine(), gas, 0, 5, expected);

  Prepared first = prepare_run(config, world);
  Trace before;
  train(*first.engine(), gas, 0, 2, before);
  first.engine()->save(dir);

  // The master shards on disk are the ranks' slices of the saved weights, padding zero.
  const ExpectedLayout layout(*first.engine(), world);
  const auto groups = flat_groups(layout, first.engine()->parameters());
  for (int64_t r = 0; r < world; ++r) {
    const auto file = safetensors::File::open(dir / ("rank" + std::to_string(r) + ".safetensors"));
    for (size_t g = 0; g < 2; ++g) {
      const std::string name = "master." + std::to_string(g);
      ASSERT_NE(file.metadata_value(name + ".offset"), nullptr);
      EXPECT_EQ(*file.metadata_value(name + ".offset"), std::to_string(static_cast<size_t>(r) * layout.partition[g]));
      EXPECT_EQ(*file.metadata_value(name + ".padded"), std::to_string(layout.padded[g]));
      const std::vector<float> shard = file.read_f32(name);
      ASSERT_EQ(shard.size(), layout.partition[g]);
      const auto slice = groups[g].begin() + static_cast<long>(static_cast<size_t>(r) * layout.partition[g]);
      EXPECT_TRUE(std::equal(shard.begin(), shard.end(), slice)) << name << " of rank " << r;
      EXPECT_EQ(file.read_f32("optimizer.exp_avg").size(), layout.shard);
    }
  }

  Prepared resumed = prepare_run(config, world, /*seed=*/999);  // other initial weights
  resumed.engine()->load(dir);
  EXPECT_EQ(resumed.engine()->global_steps(), 2);
  Trace after;
  train(*resumed.engine(), gas, 2, 5, after);
  std::vector<double> losses = before.losses;
  losses.insert(losses.end(), after.losses.begin(), after.losses.end());
  EXPECT_EQ(losses, expected.losses);
  expect_bitwise_equal(resumed.engine()->parameters(), whole.engine()->parameters());
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Stages, StageCheckpoint,
                         ::testing::Combine(::testing::Values(1, 2, 3), ::testing::Values(2, 3)),
                         [](const ::testing::TestParamInfo<ResumeParam>& info) {
                           return "zero" + std::to_string(std::get<0>(info.param)) + "_world" +
                                  std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace tandem::test
