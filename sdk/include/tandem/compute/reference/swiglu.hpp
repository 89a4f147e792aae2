// Reference SwiGLU with std::exp; same contracts as tandem/compute/swiglu.hpp.
#pragma once

#include <cmath>
#include <cstdint>

#include "tandem/compute/swiglu.hpp"

namespace tandem::compute::ref {

template <class T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <class T>
void swiglu_forward(const T* gate, const T* up, T* h, int64_t n) {
  for (int64_t i = 0; i < n; ++i) h[i] = gate[i] * sigmoid(gate[i]) * up[i];
}

template <class T>
void swiglu_backward(const T* gate, const T* up, const T* dh, T* dgate, T* dup, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T s = sigmoid(gate[i]);
    dup[i] = dh[i] * gate[i] * s;
    dgate[i] = dh[i] * up[i] * s * (T(1) + gate[i] * (T(1) - s));
  }
}

}  // namespace tandem::compute::ref
