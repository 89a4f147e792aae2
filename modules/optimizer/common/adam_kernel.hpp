// The Adam/AdamW update of one contiguous range of a shard, in fp32, element by element.
//
// Per element, in this order (DeepSpeed's CPU Adam, csrc/includes/cpu_adam.h, and its fused Adam):
//   g = grad * grad_scale
//   if weight_decay > 0 and L2 mode:  g = g + weight_decay * p          (classic Adam)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * (g * g)
//   denom = sqrt(v) * bc2 + eps            bc2 = 1 / sqrt(1 - beta2^t): eps AFTER the bias correction
//   if weight_decay > 0 and AdamW mode: p = p + (-lr * weight_decay) * p  (decoupled, = p * (1 - lr*wd))
//   p = p + (-lr / bc1) * (m / denom)      bc1 = 1 - beta1^t
// and bc1 = bc2 = 1 without bias correction.
//
// Numerics: the per-group constants (tandem/adam_constants.hpp) are computed in double and rounded
// to float once; the element math is fp32, one rounding per operation, no fused
// multiply-add (the module is built with -ffp-contract=off) and no fast-math. Decay is applied as
// p + (-lr*wd)*p rather than p * (1 - lr*wd): 1 - lr*wd rounded to float would carry a relative
// error of up to 2^-24 / (lr*wd) in the decay itself, a drift that compounds over steps.
// Every element's result depends on that element's inputs and the group's constants only, so the
// result is the same bit for bit however the range is cut into chunks, threads or shards.
//
// The loop is written for GCC's vectoriser: restrict pointers, the mode as template parameters (no
// branch inside), the bf16 conversions branch-free, sqrt without errno (-fno-math-errno).
//
// Shared by `adamw` and `cpu_adamw` (one rule, one text). update_range is always inlined: cpu_adamw
// calls it from functions compiled for AVX-512, AVX2 and the baseline (GCC target attributes), and
// only an inlined copy is compiled for its caller's instruction set (an out-of-line instantiation
// would be one baseline copy for all three).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tandem/adam_constants.hpp"
#include "tandem/dtype.hpp"

namespace tandem_adamw {

// The constants are the host's part of the rule, shared with the device kernel (tandem/adam_constants.hpp).
using tandem::adam::Decay;
using tandem::adam::make_constants;
using tandem::adam::StepConstants;

[[gnu::always_inline]] inline float load_grad(float g) { return g; }
[[gnu::always_inline]] inline float load_grad(uint16_t g) { return tandem::sdk::bf16_to_float(g); }

// Updates n elements. `Grad` is float or uint16_t (bf16 bits); p16 is written only if kWriteBf16.
template <class Grad, Decay kMode, bool kWriteBf16>
[[gnu::always_inline]] inline void update_range(size_t n, float* __restrict__ p, const Grad* __restrict__ g, float* __restrict__ m,
                  float* __restrict__ v, uint16_t* __restrict__ p16, const StepConstants& constants) {
  const StepConstants c = constants;  // locals: no aliasing question for the vectoriser
  for (size_t i = 0; i < n; ++i) {
    float grad = load_grad(g[i]) * c.grad_scale;
    float param = p[i];
    if constexpr (kMode == Decay::L2) grad = grad + c.l2 * param;
    const float mi = c.beta1 * m[i] + c.one_minus_beta1 * grad;
    const float vi = c.beta2 * v[i] + c.one_minus_beta2 * (grad * grad);
    const float denom = std::sqrt(vi) * c.bias_correction2 + c.eps;
    if constexpr (kMode == Decay::Decoupled) param = param + c.decay * param;
    param = param + c.step_size * (mi / denom);
    m[i] = mi;
    v[i] = vi;
    p[i] = param;
    if constexpr (kWriteBf16) p16[i] = tandem::sdk::float_to_bf16(param);
  }
}

}  // namespace tandem_adamw
