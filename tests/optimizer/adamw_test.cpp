// adamw: joins the optimizer conformance suite, plus what is particular to this module (its schema,
// its defaults, the flags it accepts for DeepSpeed configs, its checks of per-step hyper-parameters).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <string>
#include <vector>

#include "../common/static_module.hpp"
#include "adam_family.hpp"

extern "C" const tandem_module_descriptor* tandem_module_descriptor_adamw(void);

namespace tandem::test {

// adamw steps host shards everywhere, and device shards where it is built with the CUDA backend.
constexpr uint32_t kAdamwCapabilities =
    TANDEM_OPTIMIZER_RUNS_ON_HOST | (TANDEM_TEST_WITH_CUDA ? uint32_t{TANDEM_OPTIMIZER_RUNS_ON_DEVICE} : 0u);

INSTANTIATE_TEST_SUITE_P(adamw, OptimizerConformance,
                         ::testing::Values(adam_family("adamw", &tandem_module_descriptor_adamw,
                                                       kAdamwCapabilities)),
                         factory_name);

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Runs `steps` steps of one group over `n` elements with fixed data and returns the params.
std::vector<float> run(const std::string& params_json, size_t n, int steps, double weight_decay) {
  StaticInstance instance(tandem_module_descriptor_adamw(), params_json);
  sdk::OptimizerClient opt(instance.handle(), instance.vtable<tandem_optimizer_vtable>());
  opt.init_state(n);
  std::vector<float> p(n), g(n);
  for (size_t i = 0; i < n; ++i) p[i] = 0.1f * static_cast<float>(i % 13) - 0.6f;
  for (int t = 1; t <= steps; ++t) {
    for (size_t i = 0; i < n; ++i) g[i] = 0.05f * static_cast<float>((i * 7 + static_cast<size_t>(t)) % 11) - 0.25f;
    const sdk::OptimizerHparams d = opt.defaults();
    tandem_optimizer_group group{sizeof(tandem_optimizer_group),
                                 0,
                                 n,
                                 {sizeof(tandem_optimizer_hparams), d.lr, d.beta1, d.beta2, d.eps, weight_decay}};
    tandem_optimizer_step_args a{};
    a.struct_size = sizeof(a);
    a.step = t;
    a.params = p.data();
    a.grads = g.data();
    a.grad_dtype = TANDEM_DTYPE_F32;
    a.grad_scale = 1.0;
    a.numel = n;
    a.groups = &group;
    a.group_count = 1;
    opt.step(a);
  }
  return p;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(AdamW, DescriptorAndSchema) {
  const tandem_module_descriptor* d = tandem_module_descriptor_adamw();
  EXPECT_EQ(d->kind, static_cast<uint32_t>(TANDEM_KIND_OPTIMIZER));
  EXPECT_STREQ(d->name, "adamw");
  std::vector<std::string> names;
  for (uint32_t i = 0; i < d->param_count; ++i) names.push_back(d->params[i].name);
  EXPECT_THAT(names, ElementsAre("lr", "betas", "eps", "weight_decay", "bias_correction", "adam_w_mode", "torch_adam",
                                 "amsgrad"));
}

TEST(AdamW, DefaultsAreDeepSpeeds) {
  // DeepSpeed's FusedAdam / CPU Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.
  StaticInstance instance(tandem_module_descriptor_adamw(), "{}");
  sdk::OptimizerClient opt(instance.handle(), instance.vtable<tandem_optimizer_vtable>());
  const sdk::OptimizerHparams h = opt.defaults();
  EXPECT_EQ(h.lr, 1e-3);
  EXPECT_EQ(h.beta1, 0.9);
  EXPECT_EQ(h.beta2, 0.999);
  EXPECT_EQ(h.eps, 1e-8);
  EXPECT_EQ(h.weight_decay, 0.0);
  // bias_correction and adam_w_mode default to true.
  EXPECT_TRUE(same_bits(run("{}", 50, 4, 0.1), run(R"({"bias_correction": true, "adam_w_mode": true})", 50, 4, 0.1)));
  EXPECT_FALSE(same_bits(run("{}", 50, 4, 0.1), run(R"({"adam_w_mode": false})", 50, 4, 0.1)));
  EXPECT_FALSE(same_bits(run("{}", 50, 4, 0.1), run(R"({"bias_correction": false})", 50, 4, 0.1)));
}

TEST(AdamW, TorchAdamIsAcceptedAndChangesNothing) {
  EXPECT_TRUE(same_bits(run(R"({"torch_adam": true})", 40, 5, 0.01), run(R"({"torch_adam": false})", 40, 5, 0.01)));
}

TEST(AdamW, ZeroWeightDecayIsNoDecayInBothModes) {
  // DeepSpeed applies decay only when weight_decay > 0: with 0 the two modes are the same update.
  EXPECT_TRUE(same_bits(run(R"({"adam_w_mode": true})", 30, 5, 0.0), run(R"({"adam_w_mode": false})", 30, 5, 0.0)));
}

TEST(AdamW, RefusesHyperParametersThatWouldPoisonTheShard) {
  StaticInstance instance(tandem_module_descriptor_adamw(), "{}");
  sdk::OptimizerClient opt(instance.handle(), instance.vtable<tandem_optimizer_vtable>());
  opt.init_state(4);
  std::vector<float> p(4, 1.0f), g(4, 0.5f);
  const auto step_with = [&](tandem_optimizer_hparams h) {
    tandem_optimizer_group groups[2] = {
        {sizeof(tandem_optimizer_group), 0, 2, {sizeof(h), 1e-3, 0.9, 0.999, 1e-8, 0.0}},
        {sizeof(tandem_optimizer_group), 2, 2, h}};
    tandem_optimizer_step_args a{};
    a.struct_size = sizeof(a);
    a.step = 1;
    a.params = p.data();
    a.grads = g.data();
    a.grad_dtype = TANDEM_DTYPE_F32;
    a.grad_scale = 1.0;
    a.numel = 4;
    a.groups = groups;
    a.group_count = 2;
    opt.step(a);
  };
  const tandem_optimizer_hparams good{sizeof(tandem_optimizer_hparams), 1e-3, 0.9, 0.999, 1e-8, 0.0};
  auto bad = good;
  bad.beta2 = 1.0;
  EXPECT_THAT([&] { step_with(bad); }, ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("group 1: beta2")));
  bad = good;
  bad.lr = -1.0;
  EXPECT_THAT([&] { step_with(bad); }, ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("group 1: lr")));
  EXPECT_NO_THROW(step_with(good));
}

}  // namespace
}  // namespace tandem::test

namespace tandem::test {
namespace {

TEST(AdamW, LoadsAsASharedModuleAndSteps) {
  // The .so the host loads: its one exported entry point, its table checked by the registry, oneTBB
  // resolved at load time; created through the registry with the config's params.
  ModuleRegistry registry;
  registry.load_file(std::string(TANDEM_TEST_MODULE_DIR) + "/libtandem-optimizer-adamw.so");
  ASSERT_TRUE(registry.refusals().empty()) << registry.refusals().front().message();
  const ModuleInfo& info = registry.get(ModuleKind::Optimizer, "AdamW");
  const json::Document params = json::parse(R"({"lr": 0.01, "weight_decay": 0.1})");
  const std::shared_ptr<ModuleInstance> instance = registry.create(info, &params.root, params.source, "test.optimizer");
  sdk::OptimizerClient opt(instance->handle(), &instance->vtable<tandem_optimizer_vtable>());
  EXPECT_EQ(opt.capabilities(), kAdamwCapabilities);
  EXPECT_EQ(opt.defaults().lr, 0.01);
  opt.init_state(3);
  std::vector<float> p{1.0f, -2.0f, 0.5f}, g{0.1f, 0.2f, -0.3f};
  tandem_optimizer_group group{
      sizeof(tandem_optimizer_group), 0, 3, {sizeof(tandem_optimizer_hparams), 0.01, 0.9, 0.999, 1e-8, 0.1}};
  tandem_optimizer_step_args a{};
  a.struct_size = sizeof(a);
  a.step = 1;
  a.params = p.data();
  a.grads = g.data();
  a.grad_dtype = TANDEM_DTYPE_F32;
  a.grad_scale = 1.0;
  a.numel = 3;
  a.groups = &group;
  a.group_count = 1;
  opt.step(a);
  // Step 1 of AdamW: m/denom = g / (|g| + eps*...) ~ sign(g), so p moves by ~lr against the gradient
  // after the decay p * (1 - lr*wd).
  const double want[] = {1.0 * (1 - 0.001) - 0.01, -2.0 * (1 - 0.001) - 0.01, 0.5 * (1 - 0.001) + 0.01};
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(p[i], want[i], 1e-6) << i;
}

}  // namespace
}  // namespace tandem::test
