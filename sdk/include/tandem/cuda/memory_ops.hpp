// The element operations behind a stage's device memory (tandem/memory.h, tandem/cuda/device_memory.hpp),
// bit for bit what the CPU's table does (tandem/memory.hpp): fp32 adds, rounding to bf16/fp16 by
// tandem/dtype.hpp's rules (to nearest, ties to even; NaN keeps its payload's top bits), and the
// exact square sum of tandem/grad_norm.hpp. Every launcher but exact_square_sum only queues work.
#pragma once

#include <cstdint>

#include "tandem/cuda/runtime.hpp"

namespace tandem::cuda {

// dst[i] += src[i].
void add(float* dst, const float* src, int64_t n, cudaStream_t stream);
// data[i] = the value of `dtype` (tandem_dtype: BF16 or F16) nearest to data[i], as fp32.
void round_as(float* data, int64_t n, uint32_t dtype, cudaStream_t stream);
// dst: n elements of `dtype` (F32, BF16 or F16) holding src rounded; and the exact way back.
void to_dtype(void* dst, const float* src, int64_t n, uint32_t dtype, cudaStream_t stream);
void from_dtype(float* dst, const void* src, int64_t n, uint32_t dtype, cudaStream_t stream);

// Synchronous: the exact square sum of x (ExactSquareSum's 2 * 255 + 1 serialized words: bins of
// m^2 per biased exponent, as 128-bit (low, high) pairs, then a non-finite flag) into words_host.
// Integer sums, so the same bits in any order and on any partitioning.
void exact_square_sum(const float* x, int64_t n, uint64_t* words_host, cudaStream_t stream);

}  // namespace tandem::cuda
