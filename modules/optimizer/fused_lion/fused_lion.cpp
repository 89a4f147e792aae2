// fused_lion: DeepSpeed's Lion on the host (what "type": "Lion" builds without ZeRO-Offload: FusedLion,
// deepspeed/ops/lion/fused_lion.py and csrc/lion/multi_tensor_lion.cu).
//
// Per element, fp32, in this order (g = grad * grad_scale; m is the one state buffer, "exp_avg"):
//   c = beta1 * m + (1 - beta1) * g
//   update = c > 0 ? -lr : +lr          FusedLion's kernel: c == 0 (and NaN) move the param by +lr
//   p = p + (-lr * wd) * p + update     decoupled decay, multiplied by lr (the kernel: p * (1 - lr*wd))
//   m = beta2 * m + (1 - beta2) * g
// The group constants are computed in double and rounded to float once. Decay is applied as
// p + (-lr*wd)*p rather than p * (1 - lr*wd) for the reason the Adam kernel gives (1 - lr*wd rounded
// to float carries a relative error up to 2^-24 / (lr*wd) in the decay itself); the two agree to one
// rounding per step. No eps, no bias correction (Lion has neither). Elementwise, so the result is the
// same bit for bit however the shard is cut. DeepSpeedCPULion (the ZeRO-Offload path) differs only at
// c == 0: it moves by -copysign(lr, c); this module keeps FusedLion's rule everywhere.
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/dtype.hpp"
#include "tandem/fork_join_annotation.hpp"
#include "tandem/optimizer.hpp"

namespace {

using tandem::sdk::OptimizerGroup;
using tandem::sdk::OptimizerHparams;
using tandem::sdk::OptimizerStep;

constexpr size_t kGrain = 32 * 1024;

// DeepSpeed's FusedLion and DeepSpeedCPULion constructors: lr 1e-3, betas (0.9, 0.999) (the paper
// suggests 0.99 for beta2; DeepSpeed's default is 0.999), weight_decay 0.
const tandem_param_spec kParams[] = {
    tandem::sdk::optional_param("lr", TANDEM_PARAM_FLOAT, "0.001", "learning rate: every element moves by lr", 0.0),
    tandem::sdk::optional_param("betas", TANDEM_PARAM_FLOAT_PER_GROUP, "[0.9, 0.999]",
                                "[beta1, beta2]: interpolation of the update's sign, decay of the momentum; each in "
                                "[0, 1]",
                                0.0, 1.0),
    tandem::sdk::optional_param("weight_decay", TANDEM_PARAM_FLOAT, "0.0",
                                "decoupled weight decay, multiplied by lr: p = p * (1 - lr * weight_decay)", 0.0),
    // FusedLion's constructor argument; tandem has no gradients to free, so it has no effect.
    tandem::sdk::optional_param("set_grad_none", TANDEM_PARAM_BOOL, "true",
                                "accepted for DeepSpeed configs (FusedLion's argument); no effect"),
};

std::string text(double x) {
  char buffer[32];
  const auto r = std::to_chars(buffer, buffer + sizeof(buffer), x);
  return std::string(buffer, r.ptr);
}

struct Constants {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, lr, decay, grad_scale;
};

[[gnu::always_inline]] inline float load_grad(float g) { return g; }
[[gnu::always_inline]] inline float load_grad(uint16_t g) { return tandem::sdk::bf16_to_float(g); }

template <class Grad, bool kDecay, bool kWriteBf16>
void update_range(size_t n, float* __restrict__ p, const Grad* __restrict__ g, float* __restrict__ m,
                  uint16_t* __restrict__ p16, const Constants& constants) {
  const Constants c = constants;
  for (size_t i = 0; i < n; ++i) {
    const float grad = load_grad(g[i]) * c.grad_scale;
    const float mi = m[i];
    const float interpolated = c.beta1 * mi + c.one_minus_beta1 * grad;
    const float update = interpolated > 0.0f ? -c.lr : c.lr;
    float param = p[i];
    if constexpr (kDecay) param = param + c.decay * param;
    param = param + update;
    p[i] = param;
    m[i] = c.beta2 * mi + c.one_minus_beta2 * grad;
    if constexpr (kWriteBf16) p16[i] = tandem::sdk::float_to_bf16(param);
  }
}

class FusedLion final : public tandem::sdk::Optimizer {
 public:
  explicit FusedLion(const tandem::sdk::Params& p) : Optimizer({"exp_avg"}) {
    const std::vector<double> betas = p.per_group("betas");
    if (betas.size() != 2)
      throw std::invalid_argument("betas must be [beta1, beta2], two numbers; got " + std::to_string(betas.size()) +
                                  " value" + (betas.size() == 1 ? "" : "s"));
    defaults_ = OptimizerHparams{p.number("lr"), betas[0], betas[1], 0.0, p.number("weight_decay")};
  }

  uint32_t capabilities() const override { return TANDEM_OPTIMIZER_RUNS_ON_HOST; }
  OptimizerHparams defaults() const override { return defaults_; }

  void step(const OptimizerStep& s) override {
    for (size_t i = 0; i < s.groups.size(); ++i) check(s.groups[i].hparams, i);
    for (const OptimizerGroup& group : s.groups) {
      if (group.count == 0) continue;
      const OptimizerHparams& h = group.hparams;
      const Constants c{static_cast<float>(h.beta1),  static_cast<float>(1.0 - h.beta1),
                        static_cast<float>(h.beta2),  static_cast<float>(1.0 - h.beta2),
                        static_cast<float>(h.lr),     static_cast<float>(-h.lr * h.weight_decay),
                        static_cast<float>(s.grad_scale)};
      const bool decay = h.weight_decay != 0.0;
      if (s.grads.dtype() == TANDEM_DTYPE_BF16)
        dispatch(s, group, s.grads.bf16(group.offset, group.count).data(), c, decay);
      else
        dispatch(s, group, s.grads.f32(group.offset, group.count).data(), c, decay);
    }
  }

 private:
  // The host sets these every step (a scheduler changes lr): refuse what would corrupt the shard.
  static void check(const OptimizerHparams& h, size_t group) {
    const auto fail = [&](const std::string& what) {
      throw std::invalid_argument("fused_lion step: group " + std::to_string(group) + ": " + what);
    };
    if (!(h.lr >= 0.0) || !std::isfinite(h.lr)) fail("lr must be finite and >= 0, got " + text(h.lr));
    if (!(h.beta1 >= 0.0 && h.beta1 <= 1.0)) fail("beta1 must be in [0, 1], got " + text(h.beta1));
    if (!(h.beta2 >= 0.0 && h.beta2 <= 1.0)) fail("beta2 must be in [0, 1], got " + text(h.beta2));
    if (!std::isfinite(h.weight_decay)) fail("weight_decay must be finite, got " + text(h.weight_decay));
  }

  template <class Grad>
  void dispatch(const OptimizerStep& s, const OptimizerGroup& group, const Grad* grads, const Constants& c,
                bool decay) {
    const bool bf16 = !s.params_bf16.empty();
    if (decay)
      bf16 ? run<Grad, true, true>(s, group, grads, c) : run<Grad, true, false>(s, group, grads, c);
    else
      bf16 ? run<Grad, false, true>(s, group, grads, c) : run<Grad, false, false>(s, group, grads, c);
  }

  template <class Grad, bool kDecay, bool kWriteBf16>
  void run(const OptimizerStep& s, const OptimizerGroup& group, const Grad* grads, const Constants& c) {
    float* const p = s.params.data() + group.offset;
    float* const m = state(0).data() + group.offset;
    uint16_t* const p16 = kWriteBf16 ? s.params_bf16.data() + group.offset : nullptr;
    tandem::sdk::ForkJoinAnnotation fork_join;  // ThreadSanitizer builds only
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<size_t>(0, group.count, kGrain),
                              [&](const oneapi::tbb::blocked_range<size_t>& r) {
                                tandem::sdk::ForkJoinAnnotation::task_begins();
                                const size_t b = r.begin();
                                update_range<Grad, kDecay, kWriteBf16>(r.size(), p + b, grads + b, m + b,
                                                                       kWriteBf16 ? p16 + b : nullptr, c);
                                fork_join.task_ends();
                              });
    fork_join.joined();
  }

  OptimizerHparams defaults_;
};

}  // namespace

TANDEM_OPTIMIZER_MODULE(fused_lion, FusedLion, "1.0.0",
                        "DeepSpeed's FusedLion on the host: sign update, decoupled decay times lr, fp32", kParams)
