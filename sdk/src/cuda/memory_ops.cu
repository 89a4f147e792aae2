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
// block sums one chunk of at most kChunk values into 64-bit bins (2^16 * 2^48 fits 2^64), writing them
// out per block; a second pass adds the blocks' bins per exponent in 128 bits.
//
// Why per-warp bins and warp aggregation: a gradient's values share a handful of exponents, so one
// 64-bit shared atomic per value on one set of bins serialised on those few addresses (2.6 ms for
// GPT-2's 124M gradients on an H100, 15 times the read's time; grouping lanes by exponent with
// __match_any_sync first still took 1.4 ms). Now a warp finds its largest exponent (one redux), and
// for it and the next kTopBins below it adds the lanes' squares with two 32-bit reductions of their
// 24-bit halves (exact: 32 halves fit 32 bits); one lane adds each sum into the warp's own bins. The
// few lanes further down (about a tenth of a normal sample) add theirs one by one.
constexpr int kBins = 255;
constexpr int64_t kChunk = 1 << 16;
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr unsigned kTopBins = 4;
constexpr unsigned kNoBin = 0xffffffffu;  // a lane with nothing to add

__global__ void __launch_bounds__(kThreads) square_bins_kernel(const float* __restrict__ x, int64_t n,
                                                               unsigned long long* __restrict__ partial,
                                                               unsigned* __restrict__ nonfinite) {
  __shared__ unsigned long long bins[kWarps][kBins];
  for (int i = threadIdx.x; i < kWarps * kBins; i += blockDim.x) bins[i / kBins][i % kBins] = 0;
  __syncthreads();
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  const int64_t begin = int64_t(blockIdx.x) * kChunk, end = min(n, begin + kChunk);
  bool bad = false;
  // `base` is the same for every lane of a warp, so all 32 reach the warp-wide calls together.
  for (int64_t base = begin + warp * 32; base < end; base += blockDim.x) {
    const int64_t i = base + lane;
    unsigned bin = kNoBin;
    unsigned long long square = 0;
    if (i < end) {
      const uint32_t bits = __float_as_uint(x[i]);
      const uint32_t exponent = (bits >> 23) & 0xffu;
      unsigned long long significand = bits & 0x7fffffu;
      if (exponent != 0) significand |= 0x800000u;
      if (exponent == 0xffu) {
        bad = true;
      } else if (significand != 0) {
        bin = exponent;
        square = significand * significand;
      }
    }
    const unsigned top = __reduce_max_sync(0xffffffffu, bin == kNoBin ? 0u : bin + 1);  // 0: none
    if (top == 0) continue;
    for (unsigned k = 0; k < kTopBins && k < top; ++k) {
      const unsigned e = top - 1 - k;
      const bool mine = bin == e;
      if (__ballot_sync(0xffffffffu, mine) == 0) continue;
      const unsigned low = __reduce_add_sync(0xffffffffu, mine ? unsigned(square & 0xffffffu) : 0u);
      const unsigned high = __reduce_add_sync(0xffffffffu, mine ? unsigned(square >> 24) : 0u);
      if (lane == 0) bins[warp][e] += (static_cast<unsigned long long>(high) << 24) + low;
      if (mine) bin = kNoBin;
    }
    __syncwarp();  // lane 0's adds above before the other lanes' below
    if (bin != kNoBin) atomicAdd(&bins[warp][bin], square);
    __syncwarp();
  }
  if (bad) atomicOr(nonfinite, 1u);
  __syncthreads();
  for (int e = threadIdx.x; e < kBins; e += blockDim.x) {
    unsigned long long sum = 0;
    for (int w = 0; w < kWarps; ++w) sum += bins[w][e];  // the block's values: < 2^16 * 2^48
    partial[int64_t(blockIdx.x) * kBins + e] = sum;
  }
}

// 128-bit sums as (low, high) word pairs.
__device__ __forceinline__ void add128(unsigned long long& lo, unsigned long long& hi, unsigned long long add_lo,
                                       unsigned long long add_hi) {
  lo += add_lo;
  hi += add_hi + (lo < add_lo ? 1 : 0);  // the carry out of the low word
}

// One block per bin: each thread adds a stride of the blocks' partial bins, then the block adds its
// threads' sums (integer sums: the result is the same in any order).
__global__ void __launch_bounds__(kThreads) square_merge_kernel(const unsigned long long* __restrict__ partial,
                                                                int64_t blocks, unsigned long long* __restrict__ words) {
  __shared__ unsigned long long lo_sums[kThreads], hi_sums[kThreads];
  const int e = int(blockIdx.x);
  unsigned long long lo = 0, hi = 0;
  for (int64_t b = threadIdx.x; b < blocks; b += blockDim.x) add128(lo, hi, partial[b * kBins + e], 0);
  lo_sums[threadIdx.x] = lo;
  hi_sums[threadIdx.x] = hi;
  for (int half = kThreads / 2; half > 0; half /= 2) {
    __syncthreads();
    if (int(threadIdx.x) < half) {
      unsigned long long l = lo_sums[threadIdx.x], h = hi_sums[threadIdx.x];
      add128(l, h, lo_sums[threadIdx.x + half], hi_sums[threadIdx.x + half]);
      lo_sums[threadIdx.x] = l;
      hi_sums[threadIdx.x] = h;
    }
  }
  if (threadIdx.x == 0) {
    words[2 * e] = lo_sums[0];
    words[2 * e + 1] = hi_sums[0];
  }
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
    square_merge_kernel<<<kBins, kThreads, 0, stream>>>(partial, blocks, words);
    detail::check_launch("exact_square_sum merge", blocks, kBins);
  }
  detail::check(cudaMemcpyAsync(words_host, words, (2 * kBins + 1) * sizeof(uint64_t), cudaMemcpyDeviceToHost, stream),
                "exact_square_sum result");
  detail::check(cudaFreeAsync(scratch, stream), "exact_square_sum scratch free");
  detail::check(cudaStreamSynchronize(stream), "exact_square_sum (a kernel fault surfaces here)");
}

}  // namespace tandem::cuda
