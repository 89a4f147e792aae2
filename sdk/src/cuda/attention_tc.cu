// Causal attention on the tensor cores: bf16 operands, fp32 accumulation (mma.sync m16n8k16), the
// contract of tandem/cuda/attention.hpp.
//
// Forward: FlashAttention-2 (Dao 2023). A block owns 64 queries of one (batch, head), 16 per warp,
// with its queries' fragments in registers; key/value tiles of 64 stream through shared memory,
// double-buffered with cp.async, and an online softmax (base 2, the scale folded into one multiply)
// keeps the running max and sum per row, so the [T, T] scores never exist.
//
// Backward: FlashAttention-2's, split into two kernels so that every output element is written by
// exactly one block and the result is deterministic (no atomics): one per key tile computes dK and dV
// (streaming query tiles), one per query tile computes dQ (streaming key tiles). Both recompute the
// probabilities from q, k and the forward's lse; the split recomputes S and dP once more than the
// atomic version (7 tile products per pair of tiles instead of 5).
//
// Fragment layouts (PTX ISA, "mma.m16n8k16"): lane l holds rows l/4 and l/4 + 8 of A and C, and
// columns 2*(l%4) + {0, 1} of C; B is held k-major pairs per column. A C tile converts to A fragments
// of the next product in registers (the probabilities never touch shared memory). Shared tiles have
// rows padded by 16 bytes, so the 8 rows that one ldmatrix phase reads fall on distinct banks.
#include <cuda_bf16.h>

#include <cmath>

#include "attention_tc.cuh"
#include "check.cuh"

namespace tandem::cuda::detail {
namespace {

constexpr int kRows = 64;  // queries or keys per tile: 16 per warp
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

using bf16_t = __nv_bfloat16;

template <int HD>
constexpr int kStride = HD + 8;  // elements per shared row

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, asynchronously; `valid` false writes 16 zero bytes instead (zfill).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)), "l"(gmem),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const bf16_t* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const bf16_t* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

// d += a * b for one 16 x 8 tile.
__device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as the bf16 pair of one fragment register (the lower column in the low half).
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// Rows [row0, row0 + 64) of one head's q, k, v or dy into a shared tile (zeros past T). `base` points
// at row 0 of that head, consecutive rows `row_stride` elements apart.
template <int HD>
__device__ __forceinline__ void load_tile(bf16_t* tile, const bf16_t* base, int64_t row_stride, int row0, int T) {
  constexpr int kChunks = HD / 8;  // 16-byte pieces per row
  for (int i = threadIdx.x; i < kRows * kChunks; i += kThreads) {
    const int r = i / kChunks, c = i % kChunks;
    const int t = row0 + r;
    const bool valid = t < T;
    cp_async16(tile + r * kStride<HD> + c * 8, base + int64_t(valid ? t : 0) * row_stride + c * 8, valid);
  }
}

// A fragment of rows [r0, r0 + 16) x columns [k0, k0 + 16) of a row-major shared tile.
template <int HD>
__device__ __forceinline__ void load_a(uint32_t (&a)[4], const bf16_t* tile, int r0, int k0) {
  const int lane = threadIdx.x % 32;
  ldmatrix_x4(a, tile + (r0 + lane % 16) * kStride<HD> + k0 + 8 * (lane / 16));
}

// B fragments of two 8-column tiles (n0 .. n0 + 15) over k0 .. k0 + 15, from a tile stored with n
// along its rows ([n][k]): b[0], b[1] for the first, b[2], b[3] for the second.
template <int HD>
__device__ __forceinline__ void load_b_nk(uint32_t (&b)[4], const bf16_t* tile, int n0, int k0) {
  const int lane = threadIdx.x % 32;
  ldmatrix_x4(b, tile + (n0 + (lane & 7) + ((lane >> 4) << 3)) * kStride<HD> + k0 + (((lane >> 3) & 1) << 3));
}

// The same from a tile stored with k along its rows ([k][n]), transposed by ldmatrix.
template <int HD>
__device__ __forceinline__ void load_b_kn(uint32_t (&b)[4], const bf16_t* tile, int k0, int n0) {
  const int lane = threadIdx.x % 32;
  ldmatrix_x4_trans(b, tile + (k0 + (lane & 7) + (((lane >> 3) & 1) << 3)) * kStride<HD> + n0 + ((lane >> 4) << 3));
}

// acc[N/8][4] (a 16 x N C tile) as the A fragment of columns [16 kb, 16 kb + 16).
template <int N>
__device__ __forceinline__ void c_to_a(uint32_t (&a)[4], const float (&acc)[N / 8][4], int kb) {
  a[0] = pack_bf16(acc[2 * kb][0], acc[2 * kb][1]);
  a[1] = pack_bf16(acc[2 * kb][2], acc[2 * kb][3]);
  a[2] = pack_bf16(acc[2 * kb + 1][0], acc[2 * kb + 1][1]);
  a[3] = pack_bf16(acc[2 * kb + 1][2], acc[2 * kb + 1][3]);
}

// acc (16 x N) += A (16 x K, in registers) * B (K x N) from a shared tile.
template <int HD, int K, int N, bool kTileIsNK>
__device__ __forceinline__ void product(float (&acc)[N / 8][4], const uint32_t (&a)[K / 16][4], const bf16_t* tile) {
#pragma unroll
  for (int kb = 0; kb < K / 16; ++kb)
#pragma unroll
    for (int n2 = 0; n2 < N / 16; ++n2) {
      uint32_t b[4];
      if constexpr (kTileIsNK)
        load_b_nk<HD>(b, tile, n2 * 16, kb * 16);
      else
        load_b_kn<HD>(b, tile, kb * 16, n2 * 16);
      mma(acc[2 * n2], a[kb], b[0], b[1]);
      mma(acc[2 * n2 + 1], a[kb], b[2], b[3]);
    }
}

// The same with A given as a C tile (16 x K) of an earlier product.
template <int HD, int K, int N>
__device__ __forceinline__ void product_from_c(float (&acc)[N / 8][4], const float (&c)[K / 8][4],
                                               const bf16_t* tile_kn) {
#pragma unroll
  for (int kb = 0; kb < K / 16; ++kb) {
    uint32_t a[4];
    c_to_a<K>(a, c, kb);
#pragma unroll
    for (int n2 = 0; n2 < N / 16; ++n2) {
      uint32_t b[4];
      load_b_kn<HD>(b, tile_kn, kb * 16, n2 * 16);
      mma(acc[2 * n2], a, b[0], b[1]);
      mma(acc[2 * n2 + 1], a, b[2], b[3]);
    }
  }
}

template <int N>
__device__ __forceinline__ void zero(float (&acc)[N / 8][4]) {
#pragma unroll
  for (int j = 0; j < N / 8; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[j][e] = 0.0f;
}

// Rows of a 16 x HD C tile into a [T, row_stride] bf16 matrix (rows >= T left alone), times `scale`.
template <int HD>
__device__ __forceinline__ void store_rows(bf16_t* base, int64_t row_stride, int row0, int T,
                                           const float (&acc)[HD / 8][4], float scale) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int t = row0 + lane / 4 + 8 * i;
    if (t >= T) continue;
    bf16_t* row = base + int64_t(t) * row_stride;
#pragma unroll
    for (int d = 0; d < HD / 8; ++d)
      *reinterpret_cast<uint32_t*>(row + d * 8 + 2 * (lane % 4)) =
          pack_bf16(acc[d][2 * i] * scale, acc[d][2 * i + 1] * scale);
  }
}

struct Geometry {
  int T, C, H;
  __device__ int64_t head(int b, int h, int part) const {  // offset of (b, t = 0, part, h) in qkv
    return int64_t(b) * T * 3 * C + int64_t(part) * C + int64_t(h) * (C / H);
  }
};

template <int HD>
__global__ void __launch_bounds__(kThreads) forward_kernel(const bf16_t* __restrict__ qkv, bf16_t* __restrict__ y,
                                                           float* __restrict__ lse, Geometry g, float scale_log2) {
  __shared__ __align__(16) bf16_t qs[kRows * kStride<HD>];
  __shared__ __align__(16) bf16_t ks[2][kRows * kStride<HD>];
  __shared__ __align__(16) bf16_t vs[2][kRows * kStride<HD>];
  const int tiles = (g.T + kRows - 1) / kRows;
  const int qt = tiles - 1 - int(blockIdx.x);  // the longest rows first
  const int b = int(blockIdx.y) / g.H, h = int(blockIdx.y) % g.H;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t rs = 3LL * g.C;
  const bf16_t* q_base = qkv + g.head(b, h, 0);
  const bf16_t* k_base = qkv + g.head(b, h, 1);
  const bf16_t* v_base = qkv + g.head(b, h, 2);

  load_tile<HD>(qs, q_base, rs, qt * kRows, g.T);
  load_tile<HD>(ks[0], k_base, rs, 0, g.T);
  load_tile<HD>(vs[0], v_base, rs, 0, g.T);
  cp_async_commit();

  uint32_t qf[HD / 16][4];
  float o[HD / 8][4];
  zero<HD>(o);
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  const int row0 = qt * kRows + warp * 16 + lane / 4;  // this thread's rows: row0, row0 + 8

  for (int kt = 0; kt <= qt; ++kt) {
    const int buf = kt & 1;
    if (kt < qt) {  // the next tile streams in while this one is used
      load_tile<HD>(ks[buf ^ 1], k_base, rs, (kt + 1) * kRows, g.T);
      load_tile<HD>(vs[buf ^ 1], v_base, rs, (kt + 1) * kRows, g.T);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (kt == 0)
#pragma unroll
      for (int kb = 0; kb < HD / 16; ++kb) load_a<HD>(qf[kb], qs, warp * 16, kb * 16);

    float s[kRows / 8][4];
    zero<kRows>(s);
    product<HD, HD, kRows, true>(s, qf, ks[buf]);
#pragma unroll
    for (int j = 0; j < kRows / 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float x = s[j][e] * scale_log2;
        // Causal: only the diagonal tile has keys after some of its queries. (Keys >= T lie after
        // every real query, so this also masks the zero-filled keys of the last tile.)
        if (kt == qt && kt * kRows + j * 8 + 2 * (lane % 4) + (e & 1) > row0 + 8 * (e >> 1)) x = -INFINITY;
        s[j][e] = x;
      }
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      float mx = m[i];
#pragma unroll
      for (int j = 0; j < kRows / 8; ++j) mx = fmaxf(mx, fmaxf(s[j][2 * i], s[j][2 * i + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      // Every row sees key 0 in the first tile, so mx is finite from then on: no inf - inf.
      const float correction = exp2f(m[i] - mx);
      m[i] = mx;
      float sum = 0.0f;
#pragma unroll
      for (int j = 0; j < kRows / 8; ++j) {
        s[j][2 * i] = exp2f(s[j][2 * i] - mx);
        s[j][2 * i + 1] = exp2f(s[j][2 * i + 1] - mx);
        sum += s[j][2 * i] + s[j][2 * i + 1];
      }
      l[i] = l[i] * correction + sum;  // this thread's share of the row; the quad's are added at the end
#pragma unroll
      for (int d = 0; d < HD / 8; ++d) {
        o[d][2 * i] *= correction;
        o[d][2 * i + 1] *= correction;
      }
    }
    product_from_c<HD, kRows, HD>(o, s, vs[buf]);
    __syncthreads();  // every warp is done with buf before the next iteration refills it
  }

  float inv[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 1);
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 2);
    inv[i] = 1.0f / l[i];
  }
  const int64_t ys = g.C;
  bf16_t* y_base = y + int64_t(b) * g.T * g.C + int64_t(h) * HD;
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int t = row0 + 8 * i;
    if (t >= g.T) continue;
    bf16_t* row = y_base + int64_t(t) * ys;
#pragma unroll
    for (int d = 0; d < HD / 8; ++d)
      *reinterpret_cast<uint32_t*>(row + d * 8 + 2 * (lane % 4)) =
          pack_bf16(o[d][2 * i] * inv[i], o[d][2 * i + 1] * inv[i]);
    if (lane % 4 == 0) lse[int64_t(blockIdx.y) * g.T + t] = (m[i] + log2f(l[i])) * kLn2;
  }
}

// lse (natural log) and delta of rows [row0, row0 + 64) into shared memory: lse in base 2, and
// +inf past T so that those rows' probabilities are 0.
__device__ __forceinline__ void load_row_stats(float* lse2, float* dlt, const float* lse, const float* delta,
                                               int row0, int T) {
  for (int r = threadIdx.x; r < kRows; r += kThreads) {
    const int t = row0 + r;
    lse2[r] = t < T ? lse[t] * kLog2e : INFINITY;
    dlt[r] = t < T ? delta[t] : 0.0f;
  }
}

// dK and dV of 64 keys: each warp owns 16 keys, whose k and v fragments stay in registers, and
// streams the query tiles at or after its own (causal).
template <int HD>
__global__ void __launch_bounds__(kThreads) dkdv_kernel(const bf16_t* __restrict__ dy, const bf16_t* __restrict__ qkv,
                                                        const float* __restrict__ lse,
                                                        const float* __restrict__ delta, bf16_t* __restrict__ dqkv,
                                                        Geometry g, float scale_log2, float scale) {
  __shared__ __align__(16) bf16_t qs[2][kRows * kStride<HD>];
  __shared__ __align__(16) bf16_t gs[2][kRows * kStride<HD>];  // dy
  __shared__ float lse_s[2][kRows], delta_s[2][kRows];
  const int tiles = (g.T + kRows - 1) / kRows;
  const int kt = int(blockIdx.x);  // tile 0 has the most work: it is issued first
  const int b = int(blockIdx.y) / g.H, h = int(blockIdx.y) % g.H;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t rs = 3LL * g.C;
  const bf16_t* q_base = qkv + g.head(b, h, 0);
  const bf16_t* dy_base = dy + int64_t(b) * g.T * g.C + int64_t(h) * HD;
  const float* lse_bh = lse + int64_t(blockIdx.y) * g.T;
  const float* delta_bh = delta + int64_t(blockIdx.y) * g.T;

  // k and v of this tile pass through buffers 1 on their way to registers.
  load_tile<HD>(qs[1], qkv + g.head(b, h, 1), rs, kt * kRows, g.T);
  load_tile<HD>(gs[1], qkv + g.head(b, h, 2), rs, kt * kRows, g.T);
  load_tile<HD>(qs[0], q_base, rs, kt * kRows, g.T);
  load_tile<HD>(gs[0], dy_base, g.C, kt * kRows, g.T);
  load_row_stats(lse_s[0], delta_s[0], lse_bh, delta_bh, kt * kRows, g.T);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();
  uint32_t kf[HD / 16][4], vf[HD / 16][4];
#pragma unroll
  for (int kb = 0; kb < HD / 16; ++kb) {
    load_a<HD>(kf[kb], qs[1], warp * 16, kb * 16);
    load_a<HD>(vf[kb], gs[1], warp * 16, kb * 16);
  }
  __syncthreads();

  float dk[HD / 8][4], dv[HD / 8][4];
  zero<HD>(dk);
  zero<HD>(dv);
  const int key0 = kt * kRows + warp * 16 + lane / 4;  // this thread's keys: key0, key0 + 8
  for (int qt = kt; qt < tiles; ++qt) {
    const int buf = (qt - kt) & 1;
    if (qt + 1 < tiles) {
      load_tile<HD>(qs[buf ^ 1], q_base, rs, (qt + 1) * kRows, g.T);
      load_tile<HD>(gs[buf ^ 1], dy_base, g.C, (qt + 1) * kRows, g.T);
      load_row_stats(lse_s[buf ^ 1], delta_s[buf ^ 1], lse_bh, delta_bh, (qt + 1) * kRows, g.T);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();

    // P^T (16 keys x 64 queries) = exp2(K Q^T * scale * log2 e - lse2), 0 where the query is before the key.
    float p[kRows / 8][4];
    zero<kRows>(p);
    product<HD, HD, kRows, true>(p, kf, qs[buf]);
#pragma unroll
    for (int j = 0; j < kRows / 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int qc = j * 8 + 2 * (lane % 4) + (e & 1);
        float x = exp2f(p[j][e] * scale_log2 - lse_s[buf][qc]);
        if (qt == kt && qt * kRows + qc < key0 + 8 * (e >> 1)) x = 0.0f;
        p[j][e] = x;
      }
    product_from_c<HD, kRows, HD>(dv, p, gs[buf]);  // dV += P^T dY

    // dS^T = P^T * (V dY^T - delta)
    float ds[kRows / 8][4];
    zero<kRows>(ds);
    product<HD, HD, kRows, true>(ds, vf, gs[buf]);
#pragma unroll
    for (int j = 0; j < kRows / 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) ds[j][e] = p[j][e] * (ds[j][e] - delta_s[buf][j * 8 + 2 * (lane % 4) + (e & 1)]);
    product_from_c<HD, kRows, HD>(dk, ds, qs[buf]);  // dK += dS^T Q (times scale at the end)
    __syncthreads();
  }
  store_rows<HD>(dqkv + g.head(b, h, 1), rs, kt * kRows + warp * 16, g.T, dk, scale);
  store_rows<HD>(dqkv + g.head(b, h, 2), rs, kt * kRows + warp * 16, g.T, dv, 1.0f);
}

// dQ of 64 queries: each warp owns 16 queries, whose q and dy fragments stay in registers, and
// streams the key tiles up to its own.
template <int HD>
__global__ void __launch_bounds__(kThreads) dq_kernel(const bf16_t* __restrict__ dy, const bf16_t* __restrict__ qkv,
                                                      const float* __restrict__ lse, const float* __restrict__ delta,
                                                      bf16_t* __restrict__ dqkv, Geometry g, float scale_log2,
                                                      float scale) {
  __shared__ __align__(16) bf16_t ks[2][kRows * kStride<HD>];
  __shared__ __align__(16) bf16_t vs[2][kRows * kStride<HD>];
  const int tiles = (g.T + kRows - 1) / kRows;
  const int qt = tiles - 1 - int(blockIdx.x);
  const int b = int(blockIdx.y) / g.H, h = int(blockIdx.y) % g.H;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t rs = 3LL * g.C;
  const bf16_t* k_base = qkv + g.head(b, h, 1);
  const bf16_t* v_base = qkv + g.head(b, h, 2);

  // q and dy of this tile pass through buffers 1 on their way to registers.
  load_tile<HD>(ks[1], qkv + g.head(b, h, 0), rs, qt * kRows, g.T);
  load_tile<HD>(vs[1], dy + int64_t(b) * g.T * g.C + int64_t(h) * HD, g.C, qt * kRows, g.T);
  load_tile<HD>(ks[0], k_base, rs, 0, g.T);
  load_tile<HD>(vs[0], v_base, rs, 0, g.T);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();
  uint32_t qf[HD / 16][4], gf[HD / 16][4];
#pragma unroll
  for (int kb = 0; kb < HD / 16; ++kb) {
    load_a<HD>(qf[kb], ks[1], warp * 16, kb * 16);
    load_a<HD>(gf[kb], vs[1], warp * 16, kb * 16);
  }
  const int row0 = qt * kRows + warp * 16 + lane / 4;  // this thread's queries: row0, row0 + 8
  float lse2[2], dlt[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int t = row0 + 8 * i;
    lse2[i] = t < g.T ? lse[int64_t(blockIdx.y) * g.T + t] * kLog2e : INFINITY;
    dlt[i] = t < g.T ? delta[int64_t(blockIdx.y) * g.T + t] : 0.0f;
  }
  __syncthreads();

  float dq[HD / 8][4];
  zero<HD>(dq);
  for (int kt = 0; kt <= qt; ++kt) {
    const int buf = kt & 1;
    if (kt < qt) {
      load_tile<HD>(ks[buf ^ 1], k_base, rs, (kt + 1) * kRows, g.T);
      load_tile<HD>(vs[buf ^ 1], v_base, rs, (kt + 1) * kRows, g.T);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    float p[kRows / 8][4], ds[kRows / 8][4];
    zero<kRows>(p);
    zero<kRows>(ds);
    product<HD, HD, kRows, true>(p, qf, ks[buf]);   // S = Q K^T
    product<HD, HD, kRows, true>(ds, gf, vs[buf]);  // dP = dY V^T
#pragma unroll
    for (int j = 0; j < kRows / 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = e >> 1;
        float x = exp2f(p[j][e] * scale_log2 - lse2[i]);
        if (kt == qt && kt * kRows + j * 8 + 2 * (lane % 4) + (e & 1) > row0 + 8 * i) x = 0.0f;
        ds[j][e] = x * (ds[j][e] - dlt[i]);
      }
    product_from_c<HD, kRows, HD>(dq, ds, ks[buf]);  // dQ += dS K (times scale at the end)
    __syncthreads();
  }
  store_rows<HD>(dqkv + g.head(b, h, 0), rs, qt * kRows + warp * 16, g.T, dq, scale);
}

template <int HD>
void launch_forward(const bf16_t* qkv, bf16_t* y, float* lse, const Geometry& g, int64_t BH, cudaStream_t stream) {
  const dim3 grid(unsigned((g.T + kRows - 1) / kRows), unsigned(BH));
  forward_kernel<HD><<<grid, kThreads, 0, stream>>>(qkv, y, lse, g, kLog2e / std::sqrt(float(HD)));
}

template <int HD>
void launch_backward(const bf16_t* dy, const bf16_t* qkv, const float* lse, const float* delta, bf16_t* dqkv,
                     const Geometry& g, int64_t BH, cudaStream_t stream) {
  const dim3 grid(unsigned((g.T + kRows - 1) / kRows), unsigned(BH));
  const float scale = 1.0f / std::sqrt(float(HD));
  dkdv_kernel<HD><<<grid, kThreads, 0, stream>>>(dy, qkv, lse, delta, dqkv, g, scale * kLog2e, scale);
  dq_kernel<HD><<<grid, kThreads, 0, stream>>>(dy, qkv, lse, delta, dqkv, g, scale * kLog2e, scale);
}

}  // namespace

bool attention_tc_supports(const void* qkv, const void* y, int64_t C, int64_t n_head) {
  const int64_t hd = C / n_head;
  // 16-byte copies of each row piece: the head's rows start 16-byte aligned.
  const bool aligned = reinterpret_cast<uintptr_t>(qkv) % 16 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0 &&
                       C % 8 == 0;
  return aligned && (hd == 32 || hd == 64);
}

void attention_forward_tc(const __nv_bfloat16* qkv, __nv_bfloat16* y, float* lse, int64_t B, int64_t T, int64_t C,
                          int64_t n_head, cudaStream_t stream) {
  const Geometry g{int(T), int(C), int(n_head)};
  if (C / n_head == 32)
    launch_forward<32>(qkv, y, lse, g, B * n_head, stream);
  else
    launch_forward<64>(qkv, y, lse, g, B * n_head, stream);
  check_launch("attention_forward (tensor cores)", B * T, C);
}

void attention_backward_tc(const __nv_bfloat16* dy, const __nv_bfloat16* qkv, const float* lse, const float* delta,
                           __nv_bfloat16* dqkv, int64_t B, int64_t T, int64_t C, int64_t n_head, cudaStream_t stream) {
  const Geometry g{int(T), int(C), int(n_head)};
  if (C / n_head == 32)
    launch_backward<32>(dy, qkv, lse, delta, dqkv, g, B * n_head, stream);
  else
    launch_backward<64>(dy, qkv, lse, delta, dqkv, g, B * n_head, stream);
  check_launch("attention_backward (tensor cores)", B * T, C);
}

}  // namespace tandem::cuda::detail
