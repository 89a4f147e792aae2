// adamw: DeepSpeed's Adam/AdamW on the host (the non-offloaded path of "type": "Adam" / "AdamW").
//
// The config's params mirror DeepSpeed's optimizer block (deepspeed/runtime/engine.py,
// _configure_basic_optimizer, and the FusedAdam / DeepSpeedCPUAdam constructors). The host selects
// this module for both "Adam" and "AdamW": DeepSpeed builds AdamW when the type is "AdamW" OR when
// adam_w_mode is true (its default), so the host passes adam_w_mode = true for "AdamW" whatever the
// config says, and the config's adam_w_mode (default true) for "Adam".
//
// State: "exp_avg" and "exp_avg_sq", fp32, one element per shard element. The update itself is in
// adamw_kernel.hpp; here are the parameters, the checks and the parallel loop (oneTBB, chunks of
// kGrain elements; the result does not depend on the chunking, see the kernel).
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <charconv>
#include <cmath>
#include <string>

#include "adamw_kernel.hpp"
#include "tandem/optimizer.hpp"

namespace {

using tandem::sdk::OptimizerGroup;
using tandem::sdk::OptimizerHparams;
using tandem::sdk::OptimizerStep;
using tandem_adamw::Decay;
using tandem_adamw::StepConstants;

const tandem_param_spec kParams[] = {
    tandem::sdk::optional_param("lr", TANDEM_PARAM_FLOAT, "0.001", "learning rate", 0.0),
    // DeepSpeed's "betas" is a pair; the SDK has no pair type, so it is a list whose length the
    // constructor checks (exactly 2).
    tandem::sdk::optional_param("betas", TANDEM_PARAM_FLOAT_PER_GROUP, "[0.9, 0.999]",
                                "[beta1, beta2]: decay rates of the first and second moments, each in [0, 1)", 0.0,
                                1.0),
    tandem::sdk::optional_param("eps", TANDEM_PARAM_FLOAT, "1e-08",
                                "added to the bias-corrected sqrt(v) (outside the square root)", 0.0),
    // DeepSpeed's FusedAdam and CPU Adam default to 0; torch.optim.AdamW defaults to 0.01.
    tandem::sdk::optional_param("weight_decay", TANDEM_PARAM_FLOAT, "0.0",
                                "weight decay: decoupled (AdamW mode) or added to the gradient (Adam/L2 mode)", 0.0),
    tandem::sdk::optional_param("bias_correction", TANDEM_PARAM_BOOL, "true",
                                "divide the moments by 1 - beta^t (Adam's bias correction)"),
    tandem::sdk::optional_param("adam_w_mode", TANDEM_PARAM_BOOL, "true",
                                "true: decoupled weight decay (AdamW); false: L2 added to the gradient (Adam)"),
    // torch_adam picks torch.optim's implementation in DeepSpeed; tandem has one implementation, with
    // the same update rule, so the flag is accepted (the accelerate fixtures set it) and has no effect.
    tandem::sdk::optional_param("torch_adam", TANDEM_PARAM_BOOL, "false",
                                "accepted for DeepSpeed configs; no effect (tandem has one Adam implementation)"),
    tandem::sdk::optional_param("amsgrad", TANDEM_PARAM_BOOL, "false",
                                "must be false: DeepSpeed's fused and CPU Adam have no AMSGrad"),
};

// Elements per task: about 0.6 MB of params, grads and state each, enough to hide the scheduling.
constexpr size_t kGrain = 32 * 1024;

// The shortest text that reads back as the same double ("1e-08", "0.9"), for messages.
std::string text(double x) {
  char buffer[32];
  const auto r = std::to_chars(buffer, buffer + sizeof(buffer), x);
  return std::string(buffer, r.ptr);
}

double beta_at(const std::vector<double>& betas, size_t i) {
  const double b = betas[i];
  if (!(b >= 0.0 && b < 1.0))
    throw std::invalid_argument("betas[" + std::to_string(i) + "] = " + text(b) +
                                " must be in [0, 1) (1 - beta^t must not be 0)");
  return b;
}

class AdamW final : public tandem::sdk::Optimizer {
 public:
  explicit AdamW(const tandem::sdk::Params& p)
      : Optimizer({"exp_avg", "exp_avg_sq"}),
        lr_(p.number("lr")),
        eps_(p.number("eps")),
        weight_decay_(p.number("weight_decay")),
        bias_correction_(p.boolean("bias_correction")),
        adam_w_mode_(p.boolean("adam_w_mode")) {
    const std::vector<double> betas = p.per_group("betas");
    if (betas.size() != 2)
      throw std::invalid_argument("betas must be [beta1, beta2], two numbers; got " + std::to_string(betas.size()) +
                                  " value" + (betas.size() == 1 ? "" : "s"));
    beta1_ = beta_at(betas, 0);
    beta2_ = beta_at(betas, 1);
    if (p.boolean("amsgrad"))
      throw tandem::sdk::Unsupported(
          "amsgrad: true is not supported: DeepSpeed's fused and CPU Adam have no AMSGrad variant; set it to false");
  }

  uint32_t capabilities() const override { return TANDEM_OPTIMIZER_RUNS_ON_HOST; }

  OptimizerHparams defaults() const override { return OptimizerHparams{lr_, beta1_, beta2_, eps_, weight_decay_}; }

  void step(const OptimizerStep& s) override {
    for (size_t i = 0; i < s.groups.size(); ++i) {
      const OptimizerGroup& group = s.groups[i];
      check_hparams(group.hparams, i);
      if (group.count == 0) continue;
      const OptimizerHparams& h = group.hparams;
      const StepConstants c = tandem_adamw::make_constants(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, s.step,
                                                           bias_correction_, adam_w_mode_, s.grad_scale);
      if (s.grads.dtype() == TANDEM_DTYPE_BF16)
        update_group(s, group, s.grads.bf16(group.offset, group.count).data(), c);
      else
        update_group(s, group, s.grads.f32(group.offset, group.count).data(), c);
    }
  }

 private:
  // The host sets these on every step (the scheduler changes lr, OneCycle the betas): refuse values
  // that would silently turn the shard into NaN.
  static void check_hparams(const OptimizerHparams& h, size_t group) {
    const auto fail = [&](const std::string& what) {
      throw std::invalid_argument("adamw step: group " + std::to_string(group) + ": " + what);
    };
    if (!(h.lr >= 0.0) || !std::isfinite(h.lr)) fail("lr must be finite and >= 0, got " + text(h.lr));
    if (!(h.beta1 >= 0.0 && h.beta1 < 1.0)) fail("beta1 must be in [0, 1), got " + text(h.beta1));
    if (!(h.beta2 >= 0.0 && h.beta2 < 1.0)) fail("beta2 must be in [0, 1), got " + text(h.beta2));
    if (!(h.eps >= 0.0) || !std::isfinite(h.eps)) fail("eps must be finite and >= 0, got " + text(h.eps));
    if (!std::isfinite(h.weight_decay)) fail("weight_decay must be finite, got " + text(h.weight_decay));
  }

  template <class Grad>
  void update_group(const OptimizerStep& s, const OptimizerGroup& group, const Grad* grads, const StepConstants& c) {
    const bool bf16_out = !s.params_bf16.empty();
    switch (c.mode) {
      case Decay::None:
        return bf16_out ? run<Grad, Decay::None, true>(s, group, grads, c)
                        : run<Grad, Decay::None, false>(s, group, grads, c);
      case Decay::L2:
        return bf16_out ? run<Grad, Decay::L2, true>(s, group, grads, c)
                        : run<Grad, Decay::L2, false>(s, group, grads, c);
      case Decay::Decoupled:
        return bf16_out ? run<Grad, Decay::Decoupled, true>(s, group, grads, c)
                        : run<Grad, Decay::Decoupled, false>(s, group, grads, c);
    }
  }

  template <class Grad, Decay kMode, bool kWriteBf16>
  void run(const OptimizerStep& s, const OptimizerGroup& group, const Grad* grads, const StepConstants& c) {
    float* const p = s.params.data() + group.offset;
    float* const m = state(0).data() + group.offset;
    float* const v = state(1).data() + group.offset;
    uint16_t* const p16 = kWriteBf16 ? s.params_bf16.data() + group.offset : nullptr;
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<size_t>(0, group.count, kGrain),
                              [&](const oneapi::tbb::blocked_range<size_t>& r) {
                                const size_t b = r.begin();
                                tandem_adamw::update_range<Grad, kMode, kWriteBf16>(
                                    r.size(), p + b, grads + b, m + b, v + b, kWriteBf16 ? p16 + b : nullptr, c);
                              });
  }

  double lr_;
  double beta1_ = 0.0;
  double beta2_ = 0.0;
  double eps_;
  double weight_decay_;
  bool bias_correction_;
  bool adam_w_mode_;
};

}  // namespace

TANDEM_OPTIMIZER_MODULE(adamw, AdamW, "1.0.0",
                        "DeepSpeed Adam/AdamW on the host: fp32, decoupled or L2 weight decay, oneTBB-parallel",
                        kParams)
