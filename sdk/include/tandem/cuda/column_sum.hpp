// A linear layer's bias gradient on the device: dbias[c] += sum over rows of dy[row, c], fp32
// accumulation, in a fixed order (per-chunk partial sums, then the chunks in order), so that a
// run is reproducible bit for bit.
#pragma once

#include <cstdint>

#include "tandem/cuda/runtime.hpp"

namespace tandem::cuda {

template <class T>  // float or bf16
void column_sum_accumulate(const T* dy, float* dbias, int64_t rows, int64_t cols, cudaStream_t stream);

}  // namespace tandem::cuda
