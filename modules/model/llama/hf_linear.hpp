// nn.Linear as Hugging Face stores it (weight [out, in], y = x W^T + b) on the compute core's
// matmul; GPT-2's Conv1D linear_forward (tandem/compute/matmul.hpp) takes the transpose. Each is one
// tiled BLAS product, so results do not depend on the thread count.
#pragma once

#include <cstdint>

#include "tandem/compute/matmul.hpp"

namespace tandem::llama {

// y[rows, out] = x[rows, in] W^T (+ bias); accumulate: y += instead (a fused residual add).
template <class T>
void linear_nt_forward(const T* x, const T* w, const T* bias, T* y, int64_t rows, int64_t in, int64_t out,
                       bool accumulate = false) {
  compute::matmul(x, compute::Trans::no, w, compute::Trans::yes, y, rows, out, in, T(1), accumulate ? T(1) : T(0));
  if (bias == nullptr) return;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) y[r * out + o] += bias[o];
}

// Given dy[rows, out]: dx = dy W (overwritten, or added with accumulate_dx; skipped when null),
// dW += dy^T x, dbias += column sums of dy (skipped when null).
template <class T>
void linear_nt_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* dbias, int64_t rows, int64_t in,
                        int64_t out, bool accumulate_dx = false) {
  if (dx != nullptr)
    compute::matmul(dy, compute::Trans::no, w, compute::Trans::no, dx, rows, in, out, T(1),
                    accumulate_dx ? T(1) : T(0));
  compute::matmul(dy, compute::Trans::yes, x, compute::Trans::no, dw, out, in, rows, T(1), T(1));
  if (dbias != nullptr) compute::column_sum_accumulate(dy, dbias, rows, out);
}

}  // namespace tandem::llama
