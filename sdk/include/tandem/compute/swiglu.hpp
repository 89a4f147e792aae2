// The SwiGLU gate of Llama's MLP (Shazeer 2020), as LlamaMLP computes it between its projections:
//   h = silu(gate) * up,  silu(x) = x * sigmoid(x)      (down_proj(h) follows)
#pragma once

#include <cstdint>

namespace tandem::compute {

// gate, up, h: n values each; h must not overlap gate or up.
template <class T>
void swiglu_forward(const T* gate, const T* up, T* h, int64_t n);

// Given dh: dgate = dh * up * silu'(gate), dup = dh * silu(gate) (both overwritten),
// silu'(x) = sigmoid(x) * (1 + x * (1 - sigmoid(x))). dgate and dup may not overlap the inputs.
template <class T>
void swiglu_backward(const T* gate, const T* up, const T* dh, T* dgate, T* dup, int64_t n);

}  // namespace tandem::compute
