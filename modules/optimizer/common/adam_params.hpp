// The Adam/AdamW params shared by `adamw` and `cpu_adamw`: one schema, one parsing, one set of
// checks, so that the two modules accept exactly the same optimizer blocks (DeepSpeed's optimizer
// block: deepspeed/runtime/engine.py, _configure_basic_optimizer, and the FusedAdam /
// DeepSpeedCPUAdam constructors).
#pragma once

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/optimizer.hpp"

namespace tandem_adam {

// The schema, in the order the modules list it (a module may append its own params after these).
inline constexpr size_t kParamCount = 8;
inline constexpr tandem_param_spec kParams[kParamCount] = {
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
    // torch_adam picks torch.optim's implementation in DeepSpeed; tandem has one update rule, so the
    // flag is accepted (the accelerate fixtures set it) and has no effect.
    tandem::sdk::optional_param("torch_adam", TANDEM_PARAM_BOOL, "false",
                                "accepted for DeepSpeed configs; no effect (tandem has one Adam implementation)"),
    tandem::sdk::optional_param("amsgrad", TANDEM_PARAM_BOOL, "false",
                                "must be false: DeepSpeed's fused and CPU Adam have no AMSGrad"),
};

// The shortest text that reads back as the same double ("1e-08", "0.9"), for messages.
inline std::string text(double x) {
  char buffer[32];
  const auto r = std::to_chars(buffer, buffer + sizeof(buffer), x);
  return std::string(buffer, r.ptr);
}

// The config's settings, checked.
struct AdamSettings {
  double lr = 0.0;
  double beta1 = 0.0;
  double beta2 = 0.0;
  double eps = 0.0;
  double weight_decay = 0.0;
  bool bias_correction = true;
  bool adam_w_mode = true;

  explicit AdamSettings(const tandem::sdk::Params& p)
      : lr(p.number("lr")),
        eps(p.number("eps")),
        weight_decay(p.number("weight_decay")),
        bias_correction(p.boolean("bias_correction")),
        adam_w_mode(p.boolean("adam_w_mode")) {
    const std::vector<double> betas = p.per_group("betas");
    if (betas.size() != 2)
      throw std::invalid_argument("betas must be [beta1, beta2], two numbers; got " + std::to_string(betas.size()) +
                                  " value" + (betas.size() == 1 ? "" : "s"));
    beta1 = beta_at(betas, 0);
    beta2 = beta_at(betas, 1);
    if (p.boolean("amsgrad"))
      throw tandem::sdk::Unsupported(
          "amsgrad: true is not supported: DeepSpeed's fused and CPU Adam have no AMSGrad variant; set it to false");
  }

  tandem::sdk::OptimizerHparams defaults() const {
    return tandem::sdk::OptimizerHparams{lr, beta1, beta2, eps, weight_decay};
  }

 private:
  static double beta_at(const std::vector<double>& betas, size_t i) {
    const double b = betas[i];
    if (!(b >= 0.0 && b < 1.0))
      throw std::invalid_argument("betas[" + std::to_string(i) + "] = " + text(b) +
                                  " must be in [0, 1) (1 - beta^t must not be 0)");
    return b;
  }
};

// The host sets the hyper-parameters on every step (the scheduler changes lr, OneCycle the betas):
// refuse values that would silently turn the shard into NaN. `module` prefixes the message.
inline void check_hparams(const char* module, const tandem::sdk::OptimizerHparams& h, size_t group) {
  const auto fail = [&](const std::string& what) {
    throw std::invalid_argument(std::string(module) + " step: group " + std::to_string(group) + ": " + what);
  };
  if (!(h.lr >= 0.0) || !std::isfinite(h.lr)) fail("lr must be finite and >= 0, got " + text(h.lr));
  if (!(h.beta1 >= 0.0 && h.beta1 < 1.0)) fail("beta1 must be in [0, 1), got " + text(h.beta1));
  if (!(h.beta2 >= 0.0 && h.beta2 < 1.0)) fail("beta2 must be in [0, 1), got " + text(h.beta2));
  if (!(h.eps >= 0.0) || !std::isfinite(h.eps)) fail("eps must be finite and >= 0, got " + text(h.eps));
  if (!std::isfinite(h.weight_decay)) fail("weight_decay must be finite, got " + text(h.weight_decay));
}

}  // namespace tandem_adam
