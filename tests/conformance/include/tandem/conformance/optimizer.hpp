// The optimizer conformance suite (STYLE.md 10), installed as tandem::conformance: every optimizer
// module, shipped or third-party, joins it with one line, its factory, and is checked against a
// float64 model of its update rule written by the test's author:
//
//   INSTANTIATE_TEST_SUITE_P(lion, OptimizerConformance,
//                            ::testing::Values(tandem::test::OptimizerFactory{"lion", &tandem_module_descriptor_lion,
//                                                                             TANDEM_OPTIMIZER_RUNS_ON_HOST,
//                                                                             {lion_reference()}, {}}),
//                            tandem::test::factory_name);
//
// tandem_module_descriptor_<name> is the module's static form (tandem_add_module builds it beside the
// .so), and the test links the suite with tandem_add_conformance_test (TandemConformance.cmake).
//
// What it checks (optimizer_conformance.cpp): capabilities; the state buffers (names, fp32, 1-D,
// zeroed); defaults() against the config; 12 steps on random (well-conditioned) data against the float64 reference
// (relative error < 1e-6 in the L2 norm and in the max norm, for params and every state buffer) for
// shard sizes 1, 7, 22 and 1000, several groups with their own hyper-parameters that change every
// step, a padding element no group covers (left untouched), weight decay on and off, fp32 and bf16
// gradients, grad_scale; bf16 gradients give bit for bit what fp32 gradients of the same values give;
// the bf16 copy of the params is the round-to-nearest-even of the fp32 result, bit for bit, and a NaN
// stays a NaN; the result does not depend on how the shard is cut (ZeRO slices, bit for bit);
// state saved and restored into a fresh instance continues bit for bit; invalid params and invalid
// step arguments are refused with the expected status and message.
//
// A module implementing another rule (Lion, ...) brings its own ReferenceConfigs; the shipped Adam
// family's are in tests/optimizer/adam_family.hpp.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "tandem/optimizer.h"
#include "tandem/optimizer.hpp"

namespace tandem::test {

// One configuration of a module and the float64 model of its update.
struct ReferenceConfig {
  std::string name;                      // for messages, e.g. "adamw_mode+bias_correction"
  std::string params_json;               // the module's params for this configuration
  sdk::OptimizerHparams defaults;        // what defaults() must return for these params
  std::vector<std::string> state_names;  // the module's state buffers, in its order
  // Updates one element in place: param p and its state (state_names.size() values), given the
  // gradient g already multiplied by grad_scale, the group's hyper-parameters and the 1-based step.
  std::function<void(const sdk::OptimizerHparams& h, int64_t step, double& p, double g, std::span<double> state)>
      update;
  // For a rule that is not elementwise (LAMB: a trust ratio from the norms of a whole tensor): updates
  // one group's range at once, p and state[k] in place, g already multiplied by grad_scale. When set,
  // `update` is not used, and the shard-cut test cuts between groups (a cut inside one would change
  // its norms, as it does in DeepSpeed, where each rank's partition is one tensor).
  std::function<void(const sdk::OptimizerHparams& h, int64_t step, std::span<double> p, std::span<const double> g,
                     std::span<std::vector<double>> state)>
      update_range;
};

// Params the module must refuse.
struct InvalidParams {
  std::string params_json;
  bool by_schema;        // true: the host's schema check refuses them (ModuleError); false: create()
  tandem_status status;  // create()'s status when !by_schema
  std::string fragment;  // a part of the message
};

struct OptimizerFactory {
  std::string name;  // the instantiation's name in test names
  const tandem_module_descriptor* (*descriptor)();
  uint32_t capabilities;                 // what capabilities() must return
  std::vector<ReferenceConfig> configs;  // at least one; configs[0] serves the rule-independent tests
  std::vector<InvalidParams> invalid_params;
};

// For INSTANTIATE_TEST_SUITE_P's name generator (defined beside the suite's tests).
std::string factory_name(const ::testing::TestParamInfo<OptimizerFactory>& info);

class OptimizerConformance : public ::testing::TestWithParam<OptimizerFactory> {};

}  // namespace tandem::test
