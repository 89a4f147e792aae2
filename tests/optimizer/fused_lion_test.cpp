// fused_lion: the optimizer conformance suite against a float64 model of DeepSpeed's FusedLion
// (csrc/lion/multi_tensor_lion.cu), plus its sign rule at c == 0 and its defaults.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "../common/static_module.hpp"
#include "tandem/conformance/optimizer.hpp"

extern "C" const tandem_module_descriptor* tandem_module_descriptor_fused_lion(void);

namespace tandem::test {

namespace {

// Written from DeepSpeed's kernel, in double: c = b1 m + (1 - b1) g; p = p (1 - lr wd) + (c > 0 ? -lr : lr);
// m = b2 m + (1 - b2) g.
ReferenceConfig lion_config() {
  ReferenceConfig c;
  c.name = "fused_lion";
  c.params_json = R"({"lr": 0.002, "betas": [0.85, 0.98], "weight_decay": 0.03})";
  c.defaults = sdk::OptimizerHparams{0.002, 0.85, 0.98, 0.0, 0.03};
  c.state_names = {"exp_avg"};
  c.update = [](const sdk::OptimizerHparams& h, int64_t, double& p, double g, std::span<double> state) {
    double& m = state[0];
    const double interpolated = h.beta1 * m + (1.0 - h.beta1) * g;
    p = p * (1.0 - h.lr * h.weight_decay) + (interpolated > 0.0 ? -h.lr : h.lr);
    m = h.beta2 * m + (1.0 - h.beta2) * g;
  };
  return c;
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(
    fused_lion, OptimizerConformance,
    ::testing::Values(OptimizerFactory{"fused_lion", &tandem_module_descriptor_fused_lion, TANDEM_OPTIMIZER_RUNS_ON_HOST,
                                       {lion_config()},
                                       {{R"({"betas": [0.9]})", false, TANDEM_STATUS_INVALID_ARGUMENT,
                                         "betas must be [beta1, beta2]"},
                                        {R"({"lr": -1.0})", true, TANDEM_STATUS_OK, "lr: out of range"},
                                        {R"({"eps": 1e-8})", true, TANDEM_STATUS_OK, "unknown parameter 'eps'"}}}),
    factory_name);

namespace {

TEST(FusedLion, DefaultsAreDeepSpeeds) {
  StaticInstance instance(tandem_module_descriptor_fused_lion(), "{}");
  sdk::OptimizerClient opt(instance.handle(), instance.vtable<tandem_optimizer_vtable>());
  const sdk::OptimizerHparams d = opt.defaults();
  EXPECT_EQ(d.lr, 1e-3);
  EXPECT_EQ(d.beta1, 0.9);
  EXPECT_EQ(d.beta2, 0.999);  // FusedLion's and DeepSpeedCPULion's default (the paper's is 0.99)
  EXPECT_EQ(d.weight_decay, 0.0);
}

// FusedLion moves an element whose interpolation is exactly 0 by +lr (c > 0 ? -lr : lr), where
// torch.sign would not move it.
TEST(FusedLion, ZeroInterpolationMovesByPlusLr) {
  StaticInstance instance(tandem_module_descriptor_fused_lion(), R"({"lr": 0.5})");
  sdk::OptimizerClient opt(instance.handle(), instance.vtable<tandem_optimizer_vtable>());
  opt.init_state(3);
  std::vector<float> p = {1.0f, 1.0f, 1.0f}, g = {0.0f, 2.0f, -2.0f};
  tandem_optimizer_group group{sizeof(tandem_optimizer_group), 0, 3, {sizeof(tandem_optimizer_hparams), 0.5, 0.9, 0.999, 0, 0}};
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
  EXPECT_EQ(p[0], 1.5f);
  EXPECT_EQ(p[1], 0.5f);
  EXPECT_EQ(p[2], 1.5f);
}

}  // namespace

}  // namespace tandem::test
