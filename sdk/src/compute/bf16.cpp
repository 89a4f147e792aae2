// Bulk float <-> bfloat16 conversion in fixed chunks (rounding rules: tandem/compute/bf16.hpp).
#include "tandem/compute/bf16.hpp"

#include "parallel.hpp"
#include "simd.hpp"

namespace tandem::compute {
namespace {

constexpr int64_t kChunk = 65536;

TANDEM_SIMD_CLONES void to_bf16_chunk(const float* __restrict__ src, uint16_t* __restrict__ dst, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dst[i] = float_to_bf16_bits(src[i]);
}

TANDEM_SIMD_CLONES void from_bf16_chunk(const uint16_t* __restrict__ src, float* __restrict__ dst, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_bits_to_float(src[i]);
}

}  // namespace

void convert(const float* src, bf16* dst, int64_t n) {
  auto* bits = reinterpret_cast<uint16_t*>(dst);  // bf16 is a standard-layout wrapper of one uint16_t
  detail::for_each_chunk(n, kChunk, [&](int64_t, int64_t b, int64_t e) { to_bf16_chunk(src + b, bits + b, e - b); });
}

void convert(const bf16* src, float* dst, int64_t n) {
  const auto* bits = reinterpret_cast<const uint16_t*>(src);
  detail::for_each_chunk(n, kChunk, [&](int64_t, int64_t b, int64_t e) { from_bf16_chunk(bits + b, dst + b, e - b); });
}

}  // namespace tandem::compute
