// Causal attention, flash-style, on the CUDA cores. Each block owns one tile of kTile rows (queries
// in the forward and for dq, keys for dk and dv) of one (batch, head); each thread owns one row and
// keeps that row's vectors in registers (head size HD, a compile-time constant so that the arrays
// stay in registers); the other side's rows stream through shared memory a tile at a time, read by
// all threads at the same address (a broadcast). Tiles past the causal boundary are skipped.
#include <cmath>

#include <type_traits>

#include "attention_tc.cuh"
#include "check.cuh"
#include "tandem/cuda/attention.hpp"

namespace tandem::cuda {
namespace {

using detail::from_f32;
using detail::to_f32;

template <int HD>
constexpr int tile_rows() {
  return HD <= 64 ? 64 : 32;  // two [tile][HD] fp32 tiles stay within 48 KB of static shared memory
}

// Where the rows live: row t of part (0 q, 1 k, 2 v) of head h in batch b.
struct Geometry {
  int64_t T, C, H;
  __device__ int64_t qkv(int64_t b, int64_t t, int part, int64_t h, int hd) const {
    return (b * T + t) * 3 * C + part * C + h * hd;
  }
  __device__ int64_t out(int64_t b, int64_t t, int64_t h, int hd) const { return (b * T + t) * C + h * hd; }
  __device__ int64_t stat(int64_t b, int64_t h, int64_t t) const { return (b * H + h) * T + t; }
};

// Loads rows [row0, row0 + kTile) of part `part` into tile[kTile][HD] as fp32 (0 past T).
template <int HD, class D>
__device__ void load_tile(float (*tile)[HD], const D* __restrict__ qkv, const Geometry& g, int64_t b, int64_t h,
                          int64_t row0, int part) {
  constexpr int kTile = tile_rows<HD>();
  for (int i = threadIdx.x; i < kTile * HD; i += kTile) {
    const int r = i / HD, d = i % HD;
    const int64_t t = row0 + r;
    tile[r][d] = t < g.T ? to_f32(qkv[g.qkv(b, t, part, h, HD) + d]) : 0.0f;
  }
}

template <int HD>
__device__ float dot(const float (&a)[HD], const float* b) {
  float s = 0;
#pragma unroll
  for (int d = 0; d < HD; ++d) s += a[d] * b[d];
  return s;
}

template <class D, int HD>
__global__ void __launch_bounds__(tile_rows<HD>()) attention_forward_kernel(const D* __restrict__ qkv,
                                                                            D* __restrict__ y,
                                                                            float* __restrict__ lse, Geometry g,
                                                                            float scale) {
  constexpr int kTile = tile_rows<HD>();
  __shared__ float ks[kTile][HD], vs[kTile][HD];
  const int64_t b = blockIdx.y / g.H, h = blockIdx.y % g.H;
  const int64_t q0 = int64_t(blockIdx.x) * kTile, t = q0 + threadIdx.x;
  const bool active = t < g.T;
  float q[HD], o[HD];
#pragma unroll
  for (int d = 0; d < HD; ++d) {
    q[d] = active ? to_f32(qkv[g.qkv(b, t, 0, h, HD) + d]) * scale : 0.0f;
    o[d] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t k0 = 0; k0 <= q0; k0 += kTile) {  // causal: key tiles up to the query tile's own
    __syncthreads();
    load_tile<HD>(ks, qkv, g, b, h, k0, 1);
    load_tile<HD>(vs, qkv, g, b, h, k0, 2);
    __syncthreads();
    const int64_t last = min(int64_t(kTile), t - k0 + 1);  // keys k0 .. t
    for (int j = 0; j < last; ++j) {
      const float s = dot<HD>(q, ks[j]);
      if (s > m) {  // a new running maximum: rescale what was summed so far
        const float r = expf(m - s);
        l *= r;
#pragma unroll
        for (int d = 0; d < HD; ++d) o[d] *= r;
        m = s;
      }
      const float p = expf(s - m);
      l += p;
#pragma unroll
      for (int d = 0; d < HD; ++d) o[d] += p * vs[j][d];
    }
  }
  if (!active) return;
  const float inv = 1.0f / l;
#pragma unroll
  for (int d = 0; d < HD; ++d) y[g.out(b, t, h, HD) + d] = from_f32<D>(o[d] * inv);
  lse[g.stat(b, h, t)] = m + logf(l);
}

// delta[b, h, t] = dy_t . y_t, the row term of the softmax backward: sum_j p_tj dp_tj.
template <class D>
__global__ void attention_delta_kernel(const D* __restrict__ dy, const D* __restrict__ y, float* __restrict__ delta,
                                       Geometry g, int64_t rows, int hd) {
  // One warp a row, lanes striding its hd elements: a warp reads the row's contiguous bytes at once
  // (a thread a row read 32 rows C elements apart per load: 8 times slower on GPT-2).
  const int lane = int(threadIdx.x) % 32;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; i < rows; i += warps) {  // t fastest
    const int64_t t = i % g.T, h = (i / g.T) % g.H, b = i / (g.T * g.H);
    const int64_t row = g.out(b, t, h, hd);
    float s = 0;
    for (int d = lane; d < hd; d += 32) s += to_f32(dy[row + d]) * to_f32(y[row + d]);
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) s += __shfl_xor_sync(0xffffffffu, s, offset);
    if (lane == 0) delta[g.stat(b, h, t)] = s;
  }
}

// The same for bf16 rows of 8k elements at 16-byte aligned addresses: each lane reads 8 elements
// at once (one 16-byte load of dy and of y), hd / 8 lanes a row, so a warp moves 512 bytes per load
// instead of 64 (the one-warp-a-row kernel was bound by load latency: 88 us for GPT-2's 196K rows).
__global__ void attention_delta_bf16x8_kernel(const __nv_bfloat16* __restrict__ dy, const __nv_bfloat16* __restrict__ y,
                                              float* __restrict__ delta, Geometry g, int64_t rows, int hd) {
  const int lanes = hd / 8;  // a power of two from 4 (hd 32) to 16 (hd 128)
  const int lane = int(threadIdx.x) % 32;
  const int64_t per_warp = 32 / lanes;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t first = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32 * per_warp; first < rows;
       first += warps * per_warp) {  // every lane of a warp takes the same turns: the shuffles see all 32
    const int64_t i = first + lane / lanes;  // t fastest
    float s = 0;
    if (i < rows) {
      const int64_t t = i % g.T, h = (i / g.T) % g.H, b = i / (g.T * g.H);
      const int64_t at = g.out(b, t, h, hd) + 8 * (lane % lanes);
      const uint4 a = *reinterpret_cast<const uint4*>(dy + at);
      const uint4 c = *reinterpret_cast<const uint4*>(y + at);
      const auto* a2 = reinterpret_cast<const __nv_bfloat162*>(&a);
      const auto* c2 = reinterpret_cast<const __nv_bfloat162*>(&c);
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const float2 p = __bfloat1622float2(a2[k]), q = __bfloat1622float2(c2[k]);
        s += p.x * q.x + p.y * q.y;
      }
    }
    for (int offset = lanes / 2; offset > 0; offset /= 2) s += __shfl_xor_sync(0xffffffffu, s, offset);
    if (i < rows && lane % lanes == 0) {
      const int64_t t = i % g.T, h = (i / g.T) % g.H, b = i / (g.T * g.H);
      delta[g.stat(b, h, t)] = s;
    }
  }
}

// dq_t = scale * sum_{j <= t} p_tj (dp_tj - delta_t) k_j, with dp_tj = dy_t . v_j.
template <class D, int HD>
__global__ void __launch_bounds__(tile_rows<HD>()) attention_dq_kernel(const D* __restrict__ dy,
                                                                       const D* __restrict__ qkv,
                                                                       const float* __restrict__ lse,
                                                                       const float* __restrict__ delta,
                                                                       D* __restrict__ dqkv, Geometry g, float scale) {
  constexpr int kTile = tile_rows<HD>();
  __shared__ float ks[kTile][HD], vs[kTile][HD];
  const int64_t b = blockIdx.y / g.H, h = blockIdx.y % g.H;
  const int64_t q0 = int64_t(blockIdx.x) * kTile, t = q0 + threadIdx.x;
  const bool active = t < g.T;
  float q[HD], go[HD], dq[HD];
#pragma unroll
  for (int d = 0; d < HD; ++d) {
    q[d] = active ? to_f32(qkv[g.qkv(b, t, 0, h, HD) + d]) * scale : 0.0f;
    go[d] = active ? to_f32(dy[g.out(b, t, h, HD) + d]) : 0.0f;
    dq[d] = 0.0f;
  }
  const float row_lse = active ? lse[g.stat(b, h, t)] : 0.0f, row_delta = active ? delta[g.stat(b, h, t)] : 0.0f;
  for (int64_t k0 = 0; k0 <= q0; k0 += kTile) {
    __syncthreads();
    load_tile<HD>(ks, qkv, g, b, h, k0, 1);
    load_tile<HD>(vs, qkv, g, b, h, k0, 2);
    __syncthreads();
    const int64_t last = min(int64_t(kTile), t - k0 + 1);
    for (int j = 0; j < last; ++j) {
      const float p = expf(dot<HD>(q, ks[j]) - row_lse);
      const float ds = p * (dot<HD>(go, vs[j]) - row_delta);
#pragma unroll
      for (int d = 0; d < HD; ++d) dq[d] += ds * ks[j][d];
    }
  }
  if (!active) return;
#pragma unroll
  for (int d = 0; d < HD; ++d) dqkv[g.qkv(b, t, 0, h, HD) + d] = from_f32<D>(dq[d] * scale);
}

// For key j: dv_j = sum_{i >= j} p_ij dy_i and dk_j = scale * sum_{i >= j} p_ij (dp_ij - delta_i) q_i.
// kPart 2 writes dv (needs k), kPart 1 writes dk (needs k and v): split so that each thread keeps
// at most three HD-vectors in registers.
template <class D, int HD, int kPart>
__global__ void __launch_bounds__(tile_rows<HD>()) attention_dkv_kernel(const D* __restrict__ dy,
                                                                        const D* __restrict__ qkv,
                                                                        const float* __restrict__ lse,
                                                                        const float* __restrict__ delta,
                                                                        D* __restrict__ dqkv, Geometry g,
                                                                        float scale) {
  constexpr int kTile = tile_rows<HD>();
  __shared__ float qs[kTile][HD], gs[kTile][HD];
  __shared__ float ls[kTile], ds_row[kTile];
  const int64_t b = blockIdx.y / g.H, h = blockIdx.y % g.H;
  const int64_t j0 = int64_t(blockIdx.x) * kTile, j = j0 + threadIdx.x;
  const bool active = j < g.T;
  float k[HD], v[HD], acc[HD];
#pragma unroll
  for (int d = 0; d < HD; ++d) {
    k[d] = active ? to_f32(qkv[g.qkv(b, j, 1, h, HD) + d]) * scale : 0.0f;  // scale folded into k
    v[d] = (kPart == 1 && active) ? to_f32(qkv[g.qkv(b, j, 2, h, HD) + d]) : 0.0f;
    acc[d] = 0.0f;
  }
  for (int64_t i0 = j0; i0 < g.T; i0 += kTile) {  // causal: query tiles from the key tile's own on
    __syncthreads();
    load_tile<HD>(qs, qkv, g, b, h, i0, 0);
    for (int x = threadIdx.x; x < kTile * HD; x += kTile) {
      const int r = x / HD, d = x % HD;
      gs[r][d] = i0 + r < g.T ? to_f32(dy[g.out(b, i0 + r, h, HD) + d]) : 0.0f;
    }
    if (i0 + threadIdx.x < g.T) {
      ls[threadIdx.x] = lse[g.stat(b, h, i0 + threadIdx.x)];
      ds_row[threadIdx.x] = delta[g.stat(b, h, i0 + threadIdx.x)];
    }
    __syncthreads();
    const int first = active ? int(max(int64_t(0), j - i0)) : kTile;  // queries i >= j
    const int end = int(min(int64_t(kTile), g.T - i0));
    for (int r = first; r < end; ++r) {
      const float p = expf(dot<HD>(k, qs[r]) - ls[r]);
      if (kPart == 2) {
#pragma unroll
        for (int d = 0; d < HD; ++d) acc[d] += p * gs[r][d];
      } else {
        const float ds = p * (dot<HD>(v, gs[r]) - ds_row[r]);
#pragma unroll
        for (int d = 0; d < HD; ++d) acc[d] += ds * qs[r][d];
      }
    }
  }
  if (!active) return;
#pragma unroll
  for (int d = 0; d < HD; ++d)
    dqkv[g.qkv(b, j, kPart, h, HD) + d] = from_f32<D>(kPart == 1 ? acc[d] * scale : acc[d]);
}

struct Shape {
  int64_t B, T, C, H, hd;
};

Shape check_shape(int64_t B, int64_t T, int64_t C, int64_t H, const char* what) {
  if (B <= 0 || T <= 0 || C <= 0 || H <= 0 || C % H != 0)
    throw Error(std::string(what) + ": bad shape B=" + std::to_string(B) + " T=" + std::to_string(T) +
                " C=" + std::to_string(C) + " n_head=" + std::to_string(H));
  const int64_t hd = C / H;
  if (hd != 32 && hd != 64 && hd != 128)
    throw Error(std::string(what) + ": head size " + std::to_string(hd) + " (C=" + std::to_string(C) +
                ", n_head=" + std::to_string(H) + ") is not one of 32, 64, 128");
  if (B * H > 65535) throw Error(std::string(what) + ": B * n_head = " + std::to_string(B * H) + " > 65535");
  return {B, T, C, H, hd};
}

template <int HD, class D>
void forward(const D* qkv, D* y, float* lse, const Shape& s, cudaStream_t stream) {
  constexpr int kTile = tile_rows<HD>();
  const dim3 grid(static_cast<unsigned>((s.T + kTile - 1) / kTile), static_cast<unsigned>(s.B * s.H));
  attention_forward_kernel<D, HD><<<grid, kTile, 0, stream>>>(qkv, y, lse, Geometry{s.T, s.C, s.H},
                                                             1.0f / std::sqrt(float(HD)));
}

template <int HD, class D>
void backward(const D* dy, const D* qkv, const float* lse, const float* delta, D* dqkv, const Shape& s,
              cudaStream_t stream) {
  constexpr int kTile = tile_rows<HD>();
  const dim3 grid(static_cast<unsigned>((s.T + kTile - 1) / kTile), static_cast<unsigned>(s.B * s.H));
  const Geometry g{s.T, s.C, s.H};
  const float scale = 1.0f / std::sqrt(float(HD));
  attention_dq_kernel<D, HD><<<grid, kTile, 0, stream>>>(dy, qkv, lse, delta, dqkv, g, scale);
  attention_dkv_kernel<D, HD, 1><<<grid, kTile, 0, stream>>>(dy, qkv, lse, delta, dqkv, g, scale);
  attention_dkv_kernel<D, HD, 2><<<grid, kTile, 0, stream>>>(dy, qkv, lse, delta, dqkv, g, scale);
}

}  // namespace

template <class T>
void attention_forward(const T* qkv, T* y, float* lse, int64_t B, int64_t T_, int64_t C, int64_t n_head,
                       cudaStream_t stream) {
  const Shape s = check_shape(B, T_, C, n_head, "attention_forward");
  const auto* q = detail::dev(qkv);
  auto* o = detail::dev(y);
  if constexpr (std::is_same_v<T, bf16>) {
    if (detail::attention_tc_supports(qkv, y, C, n_head)) {
      detail::attention_forward_tc(q, o, lse, B, T_, C, n_head, stream);
      return;
    }
  }
  switch (s.hd) {
    case 32: forward<32>(q, o, lse, s, stream); break;
    case 64: forward<64>(q, o, lse, s, stream); break;
    default: forward<128>(q, o, lse, s, stream); break;
  }
  detail::check_launch("attention_forward", B * T_, C);
}

template <class T>
void attention_backward(const T* dy, const T* qkv, const T* y, const float* lse, T* dqkv, int64_t B, int64_t T_,
                        int64_t C, int64_t n_head, cudaStream_t stream) {
  const Shape s = check_shape(B, T_, C, n_head, "attention_backward");
  float* delta = nullptr;
  const size_t bytes = size_t(B * n_head * T_) * sizeof(float);
  detail::check(cudaMallocAsync(reinterpret_cast<void**>(&delta), bytes, stream),
                "attention_backward scratch of " + std::to_string(bytes) + " bytes");
  const Geometry g{s.T, s.C, s.H};
  const int64_t rows = s.B * s.H * s.T;
  const int64_t row_lanes = s.hd / 8;  // lanes a row in the vector kernel: a power of two up to 32
  const bool vector_rows = std::is_same_v<T, bf16> && s.hd % 8 == 0 && row_lanes <= 32 && (row_lanes & (row_lanes - 1)) == 0 &&
                           reinterpret_cast<uintptr_t>(dy) % 16 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0;
  if constexpr (std::is_same_v<T, bf16>) {
    if (vector_rows)
      attention_delta_bf16x8_kernel<<<detail::blocks_for(rows * (s.hd / 8), 256), 256, 0, stream>>>(
          detail::dev(dy), detail::dev(y), delta, g, rows, int(s.hd));
  }
  if (!vector_rows)
    attention_delta_kernel<<<detail::blocks_for(rows * 32, 256), 256, 0, stream>>>(detail::dev(dy), detail::dev(y),
                                                                                  delta, g, rows, int(s.hd));
  detail::check_launch("attention_backward delta", B * T_, C);
  const auto* go = detail::dev(dy);
  const auto* q = detail::dev(qkv);
  auto* dq = detail::dev(dqkv);
  bool done = false;
  if constexpr (std::is_same_v<T, bf16>) {
    if (detail::attention_tc_supports(qkv, dqkv, C, n_head) && reinterpret_cast<uintptr_t>(dy) % 16 == 0) {
      detail::attention_backward_tc(go, q, lse, delta, dq, B, T_, C, n_head, stream);
      done = true;
    }
  }
  if (!done) switch (s.hd) {
    case 32: backward<32>(go, q, lse, delta, dq, s, stream); break;
    case 64: backward<64>(go, q, lse, delta, dq, s, stream); break;
    default: backward<128>(go, q, lse, delta, dq, s, stream); break;
  }
  detail::check_launch("attention_backward", B * T_, C);
  detail::check(cudaFreeAsync(delta, stream), "attention_backward scratch free");
}

template void attention_forward<float>(const float*, float*, float*, int64_t, int64_t, int64_t, int64_t,
                                       cudaStream_t);
template void attention_forward<bf16>(const bf16*, bf16*, float*, int64_t, int64_t, int64_t, int64_t, cudaStream_t);
template void attention_backward<float>(const float*, const float*, const float*, const float*, float*, int64_t,
                                        int64_t, int64_t, int64_t, cudaStream_t);
template void attention_backward<bf16>(const bf16*, const bf16*, const bf16*, const float*, bf16*, int64_t, int64_t,
                                       int64_t, int64_t, cudaStream_t);

}  // namespace tandem::cuda
