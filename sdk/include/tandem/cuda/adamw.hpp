// Fused Adam/AdamW on the device: the rule of modules/optimizer/common/adam_kernel.hpp (DeepSpeed's
// CPU Adam, see deepspeed-semantics.md), element for element and bit for bit: fp32 master weights
// and moments, gradients fp32 or bf16, the per-element math in fp32 with one rounding per operation
// (no fused multiply-add), and, in the same pass, the bf16 copy of each updated parameter.
#pragma once

#include <cstdint>

#include "tandem/adam_constants.hpp"
#include "tandem/cuda/runtime.hpp"

namespace tandem::cuda {

// One group's constants for one step, computed on the host (in double, rounded to float once) by
// the same function the CPU optimizers use: the kernel only applies them.
using AdamDecay = adam::Decay;
using AdamConstants = adam::StepConstants;
using adam::make_constants;

// n elements of p, m, v (fp32) updated from grad; p16 (bf16, may be null) gets the new parameters.
template <class Grad>  // float or bf16
void adam_update(float* p, const Grad* grad, float* m, float* v, bf16* p16, int64_t n, const AdamConstants& c,
                 cudaStream_t stream);

}  // namespace tandem::cuda
