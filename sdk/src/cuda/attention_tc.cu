// Causal attention on the tensor cores: bf16 operands, fp32 accumulation (mma.sync m16n8k16), the
// contract of tandem/cuda/attention.hpp.
//
// Forward: FlashAttention-2 (Dao 2023). A block of W warps (4 or 8) owns 16 W queries of one
// (batch, head), 16 per warp, with its queries' fragments in registers; key/value tiles of 64 stream
// through shared memory (a warp skips the tiles wholly after its queries),
// double-buffered with cp.async, and an online softmax (base 2, the scale folded into one multiply)
// keeps the running max and sum per row, so the [T, T] scores never exist.
//
// Backward: FlashAttention-2's, split into two kernels so that every output element is written by
// exactly one block and the result is deterministic (no atomics): one per 16 W keys computes dK and
// dV (streaming query tiles), one per 16 W queries computes dQ (streaming key tiles). Both recompute the
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

// A block owns 16 rows (queries, or keys) per warp: kOwn<W> = 16 W. The rows it streams against
// come in tiles of kTile, double-buffered in shared memory.
constexpr int kTile = 64;
template <int W>
constexpr int kOwn = 16 * W;
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

// Rows [row0, row0 + ROWS) of one head's q, k, v or dy into a shared tile (zeros past T). `base`
// points at row 0 of that head, consecutive rows `row_stride` elements apart.
template <int HD, int ROWS = kTile>
__device__ __forceinline__ void load_tile(bf16_t* tile, const bf16_t* base, int64_t row_stride, int row0, int T) {
  constexpr int kChunks = HD / 8;  // 16-byte pieces per row
  for (int i = threadIdx.x; i < ROWS * kChunks; i += blockDim.x) {
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

template <int HD, int W>
__global__ void __launch_bounds__(32 * W) forward_kernel(const bf16_t* __restrict__ qkv, bf16_t* __restrict__ y,
                                                         float* __restrict__ lse, Geometry g, float scale_log2) {
  __shared__ __align__(16) bf16_t qs[kOwn<W> * kStride<HD>];
  __shared__ __align__(16) bf16_t ks[2][kTile * kStride<HD>];
  __shared__ __align__(16) bf16_t vs[2][kTile * kStride<HD>];
  const int own_tiles = (g.T + kOwn<W> - 1) / kOwn<W>;
  const int q0 = (own_tiles - 1 - int(blockIdx.x)) * kOwn<W>;  // the longest rows first
  const int b = int(blockIdx.y) / g.H, h = int(blockIdx.y) % g.H;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t rs = 3LL * g.C;
  const bf16_t* q_base = qkv + g.head(b, h, 0);
  const bf16_t* k_base = qkv + g.head(b, h, 1);
  const bf16_t* v_base = qkv + g.head(b, h, 2);
  // Causal: the key tiles up to the one holding the block's last query (or the last key).
  const int last_kt = min(q0 + kOwn<W> - 1, g.T - 1) / kTile;

  load_tile<HD, kOwn<W>>(qs, q_base, rs, q0, g.T);
  load_tile<HD>(ks[0], k_base, rs, 0, g.T);
  load_tile<HD>(vs[0], v_base, rs, 0, g.T);
  cp_async_commit();

  uint32_t qf[HD / 16][4];
  float o[HD / 8][4];
  zero<HD>(o);
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  const int warp_row0 = q0 + warp * 16;
  const int row0 = warp_row0 + lane / 4;  // this thread's rows: row0, row0 + 8

  for (int kt = 0; kt <= last_kt; ++kt) {
    const int buf = kt & 1;
    if (kt < last_kt) {  // the next tile streams in while this one is used
      load_tile<HD>(ks[buf ^ 1], k_base, rs, (kt + 1) * kTile, g.T);
      load_tile<HD>(vs[buf ^ 1], v_base, rs, (kt + 1) * kTile, g.T);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (kt == 0)
#pragma unroll
      for (int kb = 0; kb < HD / 16; ++kb) load_a<HD>(qf[kb], qs, warp * 16, kb * 16);

    // A warp whose queries all come before this tile's keys has nothing to add (warp-uniform).
    if (kt * kTile <= warp_row0 + 15) {
      float s[kTile / 8][4];
      zero<kTile>(s);
      product<HD, HD, kTile, true>(s, qf, ks[buf]);
      // Causal: only a tile reaching past the warp's first query has keys after some of its
      // queries. (Keys >= T lie after every real query, so this also masks the zero-filled keys.)
      const bool diagonal = kt * kTile + kTile - 1 > warp_row0;
#pragma unroll
      for (int j = 0; j < kTile / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float x = s[j][e] * scale_log2;
          if (diagonal && kt * kTile + j * 8 + 2 * (lane % 4) + (e & 1) > row0 + 8 * (e >> 1)) x = -INFINITY;
          s[j][e] = x;
        }
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        float mx = m[i];
#pragma unroll
        for (int j = 0; j < kTile / 8; ++j) mx = fmaxf(mx, fmaxf(s[j][2 * i], s[j][2 * i + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        // Every row sees key 0 in the first tile, so mx is finite from then on: no inf - inf.
        const float correction = exp2f(m[i] - mx);
        m[i] = mx;
        float sum = 0.0f;
#pragma unroll
        for (int j = 0; j < kTile / 8; ++j) {
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
      product_from_c<HD, kTile, HD>(o, s, vs[buf]);
    }
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

// lse (natural log) and delta of rows [row0, row0 + kTile) into shared memory: lse in base 2, and
// +inf past T so that those rows' probabilities are 0.
__device__ __forceinline__ void load_row_stats(float* lse2, float* dlt, const float* lse, const float* delta,
                                               int row0, int T) {
  for (int r = threadIdx.x; r < kTile; r += blockDim.x) {
    const int t = row0 + r;
    lse2[r] = t < T ? lse[t] * kLog2e : INFINITY;
    dlt[r] = t < T ? delta[t] : 0.0f;
  }
}

// The block's own rows of two matrices (k and v, or q and dy) into registers as A fragments, each
// through one of two shared regions of kOwn rows.
template <int HD>
__device__ __forceinline__ void load_own(uint32_t (&af)[HD / 16][4], uint32_t (&bf)[HD / 16][4],
                                         const bf16_t* region_a, const bf16_t* region_b) {
  const int warp = threadIdx.x / 32;
#pragma unroll
  for (int kb = 0; kb < HD / 16; ++kb) {
    load_a<HD>(af[kb], region_a, warp * 16, kb * 16);
    load_a<HD>(bf[kb], region_b, warp * 16, kb * 16);
  }
}

// dK and dV of kOwn keys: each warp owns 16 keys, whose k and v fragments stay in registers, and
// streams the query tiles that hold queries at or after its keys (causal).
template <int HD, int W>
__global__ void __launch_bounds__(32 * W)
    dkdv_kernel(const bf16_t* __restrict__ dy, const bf16_t* __restrict__ qkv, const float* __restrict__ lse,
                const float* __restrict__ delta, bf16_t* __restrict__ dqkv, Geometry g, float scale_log2,
                float scale) {
  static_assert(kOwn<W> <= 2 * kTile, "the own rows pass through both stream buffers");
  __shared__ __align__(16) bf16_t qs[2][kTile * kStride<HD>];
  __shared__ __align__(16) bf16_t gs[2][kTile * kStride<HD>];  // dy
  __shared__ float lse_s[2][kTile], delta_s[2][kTile];
  const int tiles = (g.T + kTile - 1) / kTile;
  const int k0 = int(blockIdx.x) * kOwn<W>;  // block 0 has the most work: it is issued first
  const int b = int(blockIdx.y) / g.H, h = int(blockIdx.y) % g.H;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t rs = 3LL * g.C;
  const bf16_t* q_base = qkv + g.head(b, h, 0);
  const bf16_t* dy_base = dy + int64_t(b) * g.T * g.C + int64_t(h) * HD;
  const float* lse_bh = lse + int64_t(blockIdx.y) * g.T;
  const float* delta_bh = delta + int64_t(blockIdx.y) * g.T;
  const int first_qt = k0 / kTile;

  // k and v of the block's keys pass through the buffers on their way to registers: buffers 1 alone
  // when they fit (the first query tile streams into buffers 0 meanwhile), else both, before it.
  constexpr bool kOverlap = kOwn<W> <= kTile;
  bf16_t* own_k = kOverlap ? qs[1] : qs[0];
  bf16_t* own_v = kOverlap ? gs[1] : gs[0];
  load_tile<HD, kOwn<W>>(own_k, qkv + g.head(b, h, 1), rs, k0, g.T);
  load_tile<HD, kOwn<W>>(own_v, qkv + g.head(b, h, 2), rs, k0, g.T);
  uint32_t kf[HD / 16][4], vf[HD / 16][4];
  if constexpr (!kOverlap) {
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
    load_own<HD>(kf, vf, own_k, own_v);
    __syncthreads();
  }
  load_tile<HD>(qs[0], q_base, rs, first_qt * kTile, g.T);
  load_tile<HD>(gs[0], dy_base, g.C, first_qt * kTile, g.T);
  load_row_stats(lse_s[0], delta_s[0], lse_bh, delta_bh, first_qt * kTile, g.T);
  cp_async_commit();
  if constexpr (kOverlap) {
    cp_async_wait<0>();
    __syncthreads();
    load_own<HD>(kf, vf, own_k, own_v);
    __syncthreads();
  }

  float dk[HD / 8][4], dv[HD / 8][4];
  zero<HD>(dk);
  zero<HD>(dv);
  const int warp_key0 = k0 + warp * 16;
  const int key0 = warp_key0 + lane / 4;  // this thread's keys: key0, key0 + 8
  for (int qt = first_qt; qt < tiles; ++qt) {
    const int buf = (qt - first_qt) & 1;
    if (qt + 1 < tiles) {
      load_tile<HD>(qs[buf ^ 1], q_base, rs, (qt + 1) * kTile, g.T);
      load_tile<HD>(gs[buf ^ 1], dy_base, g.C, (qt + 1) * kTile, g.T);
      load_row_stats(lse_s[buf ^ 1], delta_s[buf ^ 1], lse_bh, delta_bh, (qt + 1) * kTile, g.T);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();

    // A warp whose keys all come after this tile's queries has nothing to add (warp-uniform).
    if (qt * kTile + kTile - 1 >= warp_key0) {
      // Causal: only a tile starting before the warp's last key has queries before some of its keys.
      const bool diagonal = qt * kTile < warp_key0 + 15;
      // P^T (16 keys x 64 queries) = exp2(K Q^T * scale * log2 e - lse2), 0 where the query is before the key.
      float p[kTile / 8][4];
      zero<kTile>(p);
      product<HD, HD, kTile, true>(p, kf, qs[buf]);
#pragma unroll
      for (int j = 0; j < kTile / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int qc = j * 8 + 2 * (lane % 4) + (e & 1);
          float x = exp2f(p[j][e] * scale_log2 - lse_s[buf][qc]);
          if (diagonal && qt * kTile + qc < key0 + 8 * (e >> 1)) x = 0.0f;
          p[j][e] = x;
        }
      product_from_c<HD, kTile, HD>(dv, p, gs[buf]);  // dV += P^T dY

      // dS^T = P^T * (V dY^T - delta)
      float ds[kTile / 8][4];
      zero<kTile>(ds);
      product<HD, HD, kTile, true>(ds, vf, gs[buf]);
#pragma unroll
      for (int j = 0; j < kTile / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          ds[j][e] = p[j][e] * (ds[j][e] - delta_s[buf][j * 8 + 2 * (lane % 4) + (e & 1)]);
      product_from_c<HD, kTile, HD>(dk, ds, qs[buf]);  // dK += dS^T Q (times scale at the end)
    }
    __syncthreads();
  }
  store_rows<HD>(dqkv + g.head(b, h, 1), rs, warp_key0, g.T, dk, scale);
  store_rows<HD>(dqkv + g.head(b, h, 2), rs, warp_key0, g.T, dv, 1.0f);
}

// dQ of kOwn queries: each warp owns 16 queries, whose q and dy fragments stay in registers, and
// streams the key tiles up to its own.
template <int HD, int W>
__global__ void __launch_bounds__(32 * W)
    dq_kernel(const bf16_t* __restrict__ dy, const bf16_t* __restrict__ qkv, const float* __restrict__ lse,
              const float* __restrict__ delta, bf16_t* __restrict__ dqkv, Geometry g, float scale_log2, float scale) {
  static_assert(kOwn<W> <= 2 * kTile, "the own rows pass through both stream buffers");
  __shared__ __align__(16) bf16_t ks[2][kTile * kStride<HD>];
  __shared__ __align__(16) bf16_t vs[2][kTile * kStride<HD>];
  const int own_tiles = (g.T + kOwn<W> - 1) / kOwn<W>;
  const int q0 = (own_tiles - 1 - int(blockIdx.x)) * kOwn<W>;
  const int b = int(blockIdx.y) / g.H, h = int(blockIdx.y) % g.H;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t rs = 3LL * g.C;
  const bf16_t* k_base = qkv + g.head(b, h, 1);
  const bf16_t* v_base = qkv + g.head(b, h, 2);
  const int last_kt = min(q0 + kOwn<W> - 1, g.T - 1) / kTile;

  // q and dy of the block's queries pass through the buffers on their way to registers (as in
  // dkdv_kernel).
  constexpr bool kOverlap = kOwn<W> <= kTile;
  bf16_t* own_q = kOverlap ? ks[1] : ks[0];
  bf16_t* own_dy = kOverlap ? vs[1] : vs[0];
  load_tile<HD, kOwn<W>>(own_q, qkv + g.head(b, h, 0), rs, q0, g.T);
  load_tile<HD, kOwn<W>>(own_dy, dy + int64_t(b) * g.T * g.C + int64_t(h) * HD, g.C, q0, g.T);
  uint32_t qf[HD / 16][4], gf[HD / 16][4];
  if constexpr (!kOverlap) {
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
    load_own<HD>(qf, gf, own_q, own_dy);
    __syncthreads();
  }
  load_tile<HD>(ks[0], k_base, rs, 0, g.T);
  load_tile<HD>(vs[0], v_base, rs, 0, g.T);
  cp_async_commit();
  if constexpr (kOverlap) {
    cp_async_wait<0>();
    __syncthreads();
    load_own<HD>(qf, gf, own_q, own_dy);
  }
  const int warp_row0 = q0 + warp * 16;
  const int row0 = warp_row0 + lane / 4;  // this thread's queries: row0, row0 + 8
  float lse2[2], dlt[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int t = row0 + 8 * i;
    lse2[i] = t < g.T ? lse[int64_t(blockIdx.y) * g.T + t] * kLog2e : INFINITY;
    dlt[i] = t < g.T ? delta[int64_t(blockIdx.y) * g.T + t] : 0.0f;
  }
  if constexpr (kOverlap) __syncthreads();

  float dq[HD / 8][4];
  zero<HD>(dq);
  for (int kt = 0; kt <= last_kt; ++kt) {
    const int buf = kt & 1;
    if (kt < last_kt) {
      load_tile<HD>(ks[buf ^ 1], k_base, rs, (kt + 1) * kTile, g.T);
      load_tile<HD>(vs[buf ^ 1], v_base, rs, (kt + 1) * kTile, g.T);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (kt * kTile <= warp_row0 + 15) {  // as in forward_kernel
      const bool diagonal = kt * kTile + kTile - 1 > warp_row0;
      float p[kTile / 8][4], ds[kTile / 8][4];
      zero<kTile>(p);
      zero<kTile>(ds);
      product<HD, HD, kTile, true>(p, qf, ks[buf]);   // S = Q K^T
      product<HD, HD, kTile, true>(ds, gf, vs[buf]);  // dP = dY V^T
#pragma unroll
      for (int j = 0; j < kTile / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int i = e >> 1;
          float x = exp2f(p[j][e] * scale_log2 - lse2[i]);
          if (diagonal && kt * kTile + j * 8 + 2 * (lane % 4) + (e & 1) > row0 + 8 * i) x = 0.0f;
          ds[j][e] = x * (ds[j][e] - dlt[i]);
        }
      product_from_c<HD, kTile, HD>(dq, ds, ks[buf]);  // dQ += dS K (times scale at the end)
    }
    __syncthreads();
  }
  store_rows<HD>(dqkv + g.head(b, h, 0), rs, warp_row0, g.T, dq, scale);
}

template <int HD, int W>
void launch_forward(const bf16_t* qkv, bf16_t* y, float* lse, const Geometry& g, int64_t BH, cudaStream_t stream) {
  const dim3 grid(unsigned((g.T + kOwn<W> - 1) / kOwn<W>), unsigned(BH));
  forward_kernel<HD, W><<<grid, 32 * W, 0, stream>>>(qkv, y, lse, g, kLog2e / std::sqrt(float(HD)));
}

template <int HD, int W>
void launch_backward(const bf16_t* dy, const bf16_t* qkv, const float* lse, const float* delta, bf16_t* dqkv,
                     const Geometry& g, int64_t BH, cudaStream_t stream) {
  const dim3 grid(unsigned((g.T + kOwn<W> - 1) / kOwn<W>), unsigned(BH));
  const float scale = 1.0f / std::sqrt(float(HD));
  dkdv_kernel<HD, W><<<grid, 32 * W, 0, stream>>>(dy, qkv, lse, delta, dqkv, g, scale * kLog2e, scale);
  dq_kernel<HD, W><<<grid, 32 * W, 0, stream>>>(dy, qkv, lse, delta, dqkv, g, scale * kLog2e, scale);
}

template <int W>
void forward_warps(const bf16_t* qkv, bf16_t* y, float* lse, const Geometry& g, int64_t BH, int64_t hd,
                   cudaStream_t stream) {
  if (hd == 32)
    launch_forward<32, W>(qkv, y, lse, g, BH, stream);
  else
    launch_forward<64, W>(qkv, y, lse, g, BH, stream);
}

template <int W>
void backward_warps(const bf16_t* dy, const bf16_t* qkv, const float* lse, const float* delta, bf16_t* dqkv,
                    const Geometry& g, int64_t BH, int64_t hd, cudaStream_t stream) {
  if (hd == 32)
    launch_backward<32, W>(dy, qkv, lse, delta, dqkv, g, BH, stream);
  else
    launch_backward<64, W>(dy, qkv, lse, delta, dqkv, g, BH, stream);
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
                          int64_t n_head, cudaStream_t stream, int warps) {
  const Geometry g{int(T), int(C), int(n_head)};
  if (warps == 8)
    forward_warps<8>(qkv, y, lse, g, B * n_head, C / n_head, stream);
  else
    forward_warps<4>(qkv, y, lse, g, B * n_head, C / n_head, stream);
  check_launch("attention_forward (tensor cores)", B * T, C);
}

void attention_backward_tc(const __nv_bfloat16* dy, const __nv_bfloat16* qkv, const float* lse, const float* delta,
                           __nv_bfloat16* dqkv, int64_t B, int64_t T, int64_t C, int64_t n_head, cudaStream_t stream,
                           int warps) {
  const Geometry g{int(T), int(C), int(n_head)};
  if (warps == 8)
    backward_warps<8>(dy, qkv, lse, delta, dqkv, g, B * n_head, C / n_head, stream);
  else
    backward_warps<4>(dy, qkv, lse, delta, dqkv, g, B * n_head, C / n_head, stream);
  check_launch("attention_backward (tensor cores)", B * T, C);
}

}  // namespace tandem::cuda::detail
