// The stage modules driven directly through their C tables, as the engine and a model drive them.
// zero1, zero2 and zero3, with each way of reducing gradients their "reduction" parameter allows
// (reduce_scatter, all_reduce, auto), join the stage conformance suite (tandem/conformance/stage.hpp:
// the losses, gradient norms and final weights of zero0, bit for bit, over world sizes 1-4, 1 and 2
// micro-steps, clipping on and off, small and large buckets, on a toy model the GPT tests cannot
// express). Here too: stages 1 and 2 refuse to be set up without an optimizer, as DeepSpeed does;
// zero3 without one gathers parameters but has no gradients; the reduction parameter is checked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../common/static_module.hpp"
#include "../common/thread_ranks.hpp"
#include "tandem/conformance/stage.hpp"
#include "tandem/conformance/stage_toy.hpp"
#include "tandem/conformance/stand_in_device.hpp"

extern "C" const tandem_module_descriptor* tandem_module_descriptor_zero1(void);
extern "C" const tandem_module_descriptor* tandem_module_descriptor_zero2(void);
extern "C" const tandem_module_descriptor* tandem_module_descriptor_zero3(void);

namespace tandem::test {
namespace {

using ::testing::HasSubstr;

std::vector<StageFactory> partitioned_stages() {
  std::vector<StageFactory> all;
  const std::pair<const char*, const tandem_module_descriptor* (*)()> stages[] = {
      {"zero1", &tandem_module_descriptor_zero1},
      {"zero2", &tandem_module_descriptor_zero2},
      {"zero3", &tandem_module_descriptor_zero3}};
  for (const auto& [name, descriptor] : stages)
    for (const char* reduction : {"auto", "reduce_scatter", "all_reduce"})
      all.push_back(StageFactory{std::string(name) + "_" + reduction, descriptor, "", {},
                                 std::string(R"({"reduction": ")") + reduction + "\"}"});
  return all;
}

INSTANTIATE_TEST_SUITE_P(Reductions, StageConformance, ::testing::ValuesIn(partitioned_stages()), stage_factory_name);

TEST(StageDirect, StagesOneAndTwoRefuseToRunWithoutAnOptimizer) {
  for (auto [stage, descriptor] : {std::pair{1, &tandem_module_descriptor_zero1}, std::pair{2, &tandem_module_descriptor_zero2}}) {
    const ToyModules modules(StageFactory{"zero" + std::to_string(stage), descriptor});
    const auto comm = modules.comm(1);
    try {
      ToyRank r(modules.stage(false, "toy.stage"), modules.optimizer("toy.optimizer"), *comm, 0, 1,
                toy_stage_options(1000), /*with_optimizer=*/false);
      FAIL() << "stage " << stage << " was set up without an optimizer";
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), HasSubstr("ZeRO stage " + std::to_string(stage) + " requires an optimizer"));
    }
  }
}

TEST(StageDirect, ZeroThreeWithoutAnOptimizerGathersButHasNoGradients) {
  const ToyModules modules(StageFactory{"zero3", &tandem_module_descriptor_zero3});
  const auto comm = modules.comm(2);
  const RankResults results = run_ranks(2, [&](int rank) {
    ToyRank r(modules.stage(false, "toy.stage"), modules.optimizer("toy.optimizer"), *comm, rank, 2,
              toy_stage_options(1000), /*with_optimizer=*/false);
    r.set_weights(toy_initial_weights());
    EXPECT_EQ(r.weights(), toy_initial_weights());
    r.micro_step(1, 0, toy_initial_weights());  // acquire works; acquire_grads must refuse
  });
  for (int rank = 0; rank < 2; ++rank)
    EXPECT_THAT(results.message(rank), HasSubstr("without an optimizer")) << "rank " << rank;
}

// A teacher's forward passes under ZeRO-3 on a (stand-in) GPU with overlap_comm: gathers and
// prefetches go to the side queue. The second pass prefetches along the first one's order; the third
// goes another way, so a layer prefetched for it is freed unused - after its gather is joined (the
// stand-in reports a release of memory a side-queued gather still writes). Two ranks, so that the
// gathers are broadcasts between them.
TEST(StageDirect, ZeroThreePrefetchesOnTheSideQueueAndFreesAWrongGuessSafely) {
  const ToyModules modules(StageFactory{"zero3", &tandem_module_descriptor_zero3});
  const auto comm = modules.comm(2);
  tandem_stage_options options = toy_stage_options(1000);
  options.overlap_comm = 1;
  options.prefetch_bucket_size = 1000;  // every layer expected next is gathered ahead
  options.max_live_parameters = 1000;
  run_ranks_or_throw(2, [&](int rank) {
    StandInDevice device;
    ToyRank r(modules.stage(false, "toy.stage"), modules.optimizer("toy.optimizer"), *comm, rank, 2, options,
              /*with_optimizer=*/false, &device);
    const std::vector<std::vector<float>> w = toy_initial_weights();
    r.set_weights(w);
    r.forward_pass({1, 2, 3}, w);
    r.forward_pass({1, 2, 3}, w);  // prefetched along the recorded order
    r.forward_pass({2, 1, 3}, w);  // layer 1 was gathered ahead for nothing when 2 comes first
    EXPECT_EQ(device.violation(), "") << "rank " << rank;
    EXPECT_EQ(r.weights(), w);
  });
}

TEST(StageDirect, TheReductionParameterIsChecked) {
  EXPECT_THROW(StaticInstance(tandem_module_descriptor_zero2(), R"({"reduction": "broadcast"})"), ModuleError);
}

}  // namespace
}  // namespace tandem::test
