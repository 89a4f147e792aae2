// The element operations of a stage's device memory (tandem/cuda/memory_ops.hpp). Grid-stride loops;
// the rounding rules are tandem/dtype.hpp's, written out again for the device so that a GPU's bf16 or
// fp16 value of a float is the CPU's, bit for bit.
#include "check.cuh"
#include "tandem/cuda/convert.hpp"
#include "tandem/cuda/memory_ops.hpp"

namespace tandem::cuda {
namespace {

constexpr uint32_t kF32 = 1, kBf16 = 2, kF16 = 3;  // tandem_dtype (tandem/tensor.h)

// tandem::sdk::float_to_fp16: round to nearest even, infinity from 65520 on, subnormals rounded.
__device__ __forceinline__ uint16_t fp16_rne(float value) {
  const uint32_t bits = __float_as_uint(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (magnitude >= 0x38800000u) {
    const uint32_t rebiased = magnitude - 0x38000000u;
    return static_cast<uint16_t>(sign | ((rebiased + 0xfffu + ((rebiased >> 13) & 1u)) >> 13));
  }
  if (magnitude <= 0x33000000u) return static_cast<uint16_t>(sign);
  const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - (magnitude >> 23);
  const uint32_t kept = significand >> shift;
  const uint32_t dropped = significand & ((1u << shift) - 1u);
  const uint32_t halfway = 1u << (shift - 1u);
  const uint32_t round_up = dropped > halfway || (dropped == halfway && (kept & 1u) != 0) ? 1u : 0u;
  return static_cast<uint16_t>(sign | (kept + round_up));
}

// tandem::sdk::fp16_to_float: exact.
__device__ __forceinline__ float fp16_widen(uint16_t h) {
  const uint32_t sign = (uint32_t(h) & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0x1fu) return __uint_as_float(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) return __uint_as_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  const float magnitude = float(mantissa) * 5.9604644775390625e-8f;  // zero or subnormal: m * 2^-24, exact
  return sign != 0 ? -magnitude : magnitude;
}

__global__ void add_kernel(float* __restrict__ dst, const float* __restrict__ src, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] += src[i];
}

__global__ void round_kernel(float* __restrict__ data, int64_t n, uint32_t dtype) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    data[i] = dtype == kBf16 ? __bfloat162float(detail::bf16_rne(data[i])) : fp16_widen(fp16_rne(data[i]));
}

__global__ void to_fp16_kernel(uint16_t* __restrict__ dst, const float* __restrict__ src, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = fp16_rne(src[i]);
}

__global__ void from_fp16_kernel(float* __restrict__ dst, const uint16_t* __restrict__ src, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = fp16_widen(src[i]);
}

// Exact square sums (tandem/grad_norm.hpp): value x = m * 2^(e - 150) adds m^2 (< 2^48) to bin e. A
// block sums one chunk of at most kChunk values into 64-bit bins in shared memory (2^16 * 2^48 fits
// 2^64), writing them out per block; a second pass adds the blocks' bins per exponent in 128 bits.
constexpr int kBins = 255;
constexpr int64_t kChunk = 1 << 16;
constexpr int kThreads = 256;

__global__ void square_bins_kernel(const float* __restrict__ x, int64_t n, unsigned long long* __restrict__ partial,
                                   unsigned* __restrict__ nonfinite) {
  __shared__ unsigned long long bins[kBins];
  for (int e = threadIdx.x; e < kBins; e += blockDim.x) bins[e] = 0;
  __syncthreads();
  const int64_t begin = int64_t(blockIdx.x) * kChunk, end = min(n, begin + kChunk);
  bool bad = false;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const uint32_t bits = __float_as_uint(x[i]);
    const uint32_t exponent = (bits >> 23) & 0xffu;
    if (exponent == 0xffu) {
      bad = true;
      continue;
    }
    unsigned long long significand = bits & 0x7fffffu;
    if (exponent != 0) significand |= 0x800000u;
    if (significand != 0) atomicAdd(&bins[exponent], significand * significand);
  }
  if (bad) atomicOr(nonfinite, 1u);
  __syncthreads();
  for (int e = threadIdx.x; e < kBins; e += blockDim.x) partial[int64_t(blockIdx.x) * kBins + e] = bins[e];
}

__global__ void square_merge_kernel(const unsigned long long* __restrict__ partial, int64_t blocks,
                                    unsigned long long* __restrict__ words) {
  const int e = int(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= kBins) return;
  unsigned long long lo = 0, hi = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    const unsigned long long v = partial[b * kBins + e];
    lo += v;
    hi += lo < v ? 1 : 0;  // the carry out of the low word
  }
  words[2 * e] = lo;
  words[2 * e + 1] = hi;
}

}  // namespace

void add(float* dst, const float* src, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  add_kernel<<<detail::blocks_for(n, 256), 256, 0, stream>>>(dst, src, n);
  detail::check_launch("add", n, 1);
}

void round_as(float* data, int64_t n, uint32_t dtype, cudaStream_t stream) {
  if (n <= 0 || dtype == kF32) return;
  if (dtype != kBf16 && dtype != kF16) throw Error("round_as: dtype " + std::to_string(dtype) + " is not BF16 or F16");
  round_kernel<<<detail::blocks_for(n, 256), 256, 0, stream>>>(data, n, dtype);
  detail::check_launch("round_as", n, 1);
}

void to_dtype(void* dst, const float* src, int64_t n, uint32_t dtype, cudaStream_t stream) {
  if (n <= 0) return;
  switch (dtype) {
    case kF32:
      if (dst != src) copy_async(dst, src, size_t(n) * sizeof(float), stream);
      return;
    case kBf16:
      convert(src, static_cast<bf16*>(dst), n, stream);
      return;
    case kF16:
      to_fp16_kernel<<<detail::blocks_for(n, 256), 256, 0, stream>>>(static_cast<uint16_t*>(dst), src, n);
      detail::check_launch("to_dtype fp16", n, 1);
      return;
    default:
      throw Error("to_dtype: dtype " + std::to_string(dtype) + " is not F32, BF16 or F16");
  }
}

void from_dtype(float* dst, const void* src, int64_t n, uint32_t dtype, cudaStream_t stream) {
  if (n <= 0) return;
  switch (dtype) {
    case kF32:
      if (dst != src) copy_async(dst, src, size_t(n) * sizeof(float), stream);
      return;
    case kBf16:
      convert(static_cast<const bf16*>(src), dst, n, stream);
      return;
    case kF16:
      from_fp16_kernel<<<detail::blocks_for(n, 256), 256, 0, stream>>>(dst, static_cast<const uint16_t*>(src), n);
      detail::check_launch("from_dtype fp16", n, 1);
      return;
    default:
      throw Error("from_dtype: dtype " + std::to_string(dtype) + " is not F32, BF16 or F16");
  }
}

void exact_square_sum(const float* x, int64_t n, uint64_t* words_host, cudaStream_t stream) {
  const int64_t blocks = n > 0 ? (n + kChunk - 1) / kChunk : 0;
  // partial bins, then the 2 * kBins words and the flag, in one scratch allocation
  const size_t partial_bytes = size_t(blocks) * kBins * sizeof(unsigned long long);
  const size_t bytes = partial_bytes + (2 * kBins + 1) * sizeof(unsigned long long);
  void* scratch = nullptr;
  detail::check(cudaMallocAsync(&scratch, bytes, stream), "exact_square_sum scratch of " + std::to_string(bytes) + " bytes");
  auto* partial = static_cast<unsigned long long*>(scratch);
  auto* words = reinterpret_cast<unsigned long long*>(static_cast<char*>(scratch) + partial_bytes);
  detail::check(cudaMemsetAsync(words, 0, (2 * kBins + 1) * sizeof(unsigned long long), stream), "exact_square_sum");
  if (blocks > 0) {
    square_bins_kernel<<<unsigned(blocks), kThreads, 0, stream>>>(x, n, partial,
                                                                 reinterpret_cast<unsigned*>(words + 2 * kBins));
    detail::check_launch("exact_square_sum bins", n, 1);
    square_merge_kernel<<<1, kThreads, 0, stream>>>(partial, blocks, words);
    detail::check_launch("exact_square_sum merge", blocks, kBins);
  }
  detail::check(cudaMemcpyAsync(words_host, words, (2 * kBins + 1) * sizeof(uint64_t), cudaMemcpyDeviceToHost, stream),
                "exact_square_sum result");
  detail::check(cudaFreeAsync(scratch, stream), "exact_square_sum scratch free");
  detail::check(cudaStreamSynchronize(stream), "exact_square_sum (a kernel fault surfaces here)");
}

}  // namespace tandem::cuda
