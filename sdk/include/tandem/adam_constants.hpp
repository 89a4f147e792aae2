// One Adam/AdamW group's constants for one step, the part of DeepSpeed's Adam rule that the host
// computes: shared by the CPU kernels (modules/optimizer/common/adam_kernel.hpp, where the rule is
// written out element by element) and the device kernel (tandem/cuda/adamw.hpp), so that both apply
// the same float constants and agree bit for bit.
//
// The constants (1 - beta, bc1, bc2, -lr/bc1, -lr*wd) are computed in double and rounded to float
// once. Kept C++17 (the CUDA sources include it).
#pragma once

#include <cmath>
#include <cstdint>

namespace tandem::adam {

enum class Decay { None, L2, Decoupled };

struct StepConstants {
  float grad_scale;
  float beta1, one_minus_beta1;
  float beta2, one_minus_beta2;
  float bias_correction2;  // 1/sqrt(1 - beta2^t), or 1
  float eps;
  float step_size;  // -lr / (1 - beta1^t), or -lr
  float l2;         // L2 mode: weight_decay
  float decay;      // AdamW mode: -lr * weight_decay
  Decay mode;
};

inline StepConstants make_constants(double lr, double beta1, double beta2, double eps, double weight_decay,
                                    int64_t step, bool bias_correction, bool adam_w_mode, double grad_scale) {
  double bc1 = 1.0, bc2 = 1.0;
  if (bias_correction) {
    const double t = static_cast<double>(step);
    bc1 = 1.0 - std::pow(beta1, t);
    bc2 = 1.0 / std::sqrt(1.0 - std::pow(beta2, t));
  }
  StepConstants c{};
  c.grad_scale = static_cast<float>(grad_scale);
  c.beta1 = static_cast<float>(beta1);
  c.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  c.beta2 = static_cast<float>(beta2);
  c.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  c.bias_correction2 = static_cast<float>(bc2);
  c.eps = static_cast<float>(eps);
  c.step_size = static_cast<float>(-lr / bc1);
  c.l2 = static_cast<float>(weight_decay);
  c.decay = static_cast<float>(-lr * weight_decay);
  // DeepSpeed applies weight decay only when it is positive; 0 must leave p bit for bit (0 * inf is NaN).
  c.mode = weight_decay > 0.0 ? (adam_w_mode ? Decay::Decoupled : Decay::L2) : Decay::None;
  return c;
}

}  // namespace tandem::adam
