// Matmul and the linear layer: BLAS tiles scheduled by oneTBB (threading: blas.hpp).
//
// A product is cut into a grid of tiles of c, each computed by one single-threaded gemm on
// sub-blocks of a and b (offsets plus the full leading dimensions, no copies). The grid comes from
// the shape alone (plan_tiles), so the result is the same for any thread count. Tiles are kept at
// least 64 wide in both directions: a gemm packs its slice of a and b before computing, and a thin
// tile would spend more on packing than on arithmetic.
#include "tandem/compute/matmul.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "blas.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace tandem::compute {
namespace {

using detail::ceil_div;
using detail::round_up;

struct TilePlan {
  int64_t tile_m = 0, tile_n = 0;
  int64_t tiles_m = 0, tiles_n = 0;
  int64_t count() const { return tiles_m * tiles_n; }
};

// Halves the larger side of the tile until there are enough tiles to keep 16 threads busy, a side
// would fall below 64, or a tile would do too little work to pay for a task.
TilePlan plan_tiles(int64_t m, int64_t n, int64_t k) {
  constexpr int64_t kWantTiles = 32;
  constexpr int64_t kMinSide = 64;
  constexpr int64_t kMinTileWork = int64_t{1} << 18;  // multiply-adds
  TilePlan p{m, n, 1, 1};
  auto refresh = [&] {
    p.tiles_m = ceil_div(m, p.tile_m);
    p.tiles_n = ceil_div(n, p.tile_n);
  };
  while (p.count() < kWantTiles) {
    const int64_t half_m = round_up(ceil_div(p.tile_m, 2), 16);
    const int64_t half_n = round_up(ceil_div(p.tile_n, 2), 16);
    const bool can_m = half_m >= kMinSide && half_m < p.tile_m && half_m * p.tile_n * k >= kMinTileWork;
    const bool can_n = half_n >= kMinSide && half_n < p.tile_n && p.tile_m * half_n * k >= kMinTileWork;
    if (can_m && (!can_n || p.tile_m >= p.tile_n)) {
      p.tile_m = half_m;
    } else if (can_n) {
      p.tile_n = half_n;
    } else {
      break;
    }
    refresh();
  }
  return p;
}

void check_sizes(int64_t m, int64_t n, int64_t k) {
  if (m < 0 || n < 0 || k < 0)
    throw std::invalid_argument("matmul: negative size m=" + std::to_string(m) + " n=" + std::to_string(n) +
                                " k=" + std::to_string(k));
  detail::check_blas_size(m, "m");
  detail::check_blas_size(n, "n");
  detail::check_blas_size(k, "k");
}

// bias (or nothing) into a tile of c before a gemm with beta = 1.
template <class T>
TANDEM_INLINE void bias_tile_impl(T* c, int64_t ldc, const T* bias, int64_t rows, int64_t cols, bool accumulate) {
  for (int64_t r = 0; r < rows; ++r) {
    T* cr = c + r * ldc;
    if (accumulate) {
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) cr[j] += bias[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) cr[j] = bias[j];
    }
  }
}
TANDEM_SIMD_CLONES void bias_tile(float* c, int64_t ldc, const float* bias, int64_t rows, int64_t cols,
                                  bool accumulate) {
  bias_tile_impl(c, ldc, bias, rows, cols, accumulate);
}
TANDEM_SIMD_CLONES void bias_tile(double* c, int64_t ldc, const double* bias, int64_t rows, int64_t cols,
                                  bool accumulate) {
  bias_tile_impl(c, ldc, bias, rows, cols, accumulate);
}

// c = alpha op(a) op(b) + beta c, tile by tile; prologue(c_tile, i0, j0, rows, cols) runs on each
// tile just before its gemm (the linear layer puts the bias there while the tile is in cache).
template <class T, class Prologue>
void gemm_tiled(const T* a, Trans ta, const T* b, Trans tb, T* c, int64_t m, int64_t n, int64_t k, T alpha, T beta,
                const Prologue& prologue) {
  check_sizes(m, n, k);
  if (m == 0 || n == 0) return;
  detail::blas_use_single_thread();
  const TilePlan plan = plan_tiles(m, n, k);
  const bool trans_a = ta == Trans::yes, trans_b = tb == Trans::yes;
  detail::for_each_index(plan.count(), [&](int64_t tile) {
    const int64_t i0 = (tile / plan.tiles_n) * plan.tile_m;
    const int64_t j0 = (tile % plan.tiles_n) * plan.tile_n;
    const int64_t rows = std::min(plan.tile_m, m - i0);
    const int64_t cols = std::min(plan.tile_n, n - j0);
    T* ct = c + i0 * n + j0;
    prologue(ct, i0, j0, rows, cols);
    if (k == 0) {  // BLAS rejects a zero leading dimension; the product is empty
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j) ct[r * n + j] = beta == T(0) ? T(0) : beta * ct[r * n + j];
      return;
    }
    const T* at = trans_a ? a + i0 : a + i0 * k;  // [k,m] starting at column i0, or [m,k] at row i0
    const T* bt = trans_b ? b + j0 * k : b + j0;  // [n,k] at row j0, or [k,n] at column j0
    detail::gemm(trans_a, trans_b, rows, cols, k, alpha, at, trans_a ? m : k, bt, trans_b ? k : n, beta, ct, n);
  });
}

template <class T>
TANDEM_INLINE void column_sum_impl(const T* x, T* out, int64_t rows, int64_t cols, int64_t c0, int64_t c1) {
  const int64_t width = c1 - c0;
  T acc[256];  // column chunks are at most 256 wide
  for (int64_t j = 0; j < width; ++j) acc[j] = T(0);
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols + c0;
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) acc[j] += xr[j];
  }
  for (int64_t j = 0; j < width; ++j) out[c0 + j] += acc[j];
}
TANDEM_SIMD_CLONES void column_sum_chunk(const float* x, float* out, int64_t rows, int64_t cols, int64_t c0,
                                         int64_t c1) {
  column_sum_impl(x, out, rows, cols, c0, c1);
}
TANDEM_SIMD_CLONES void column_sum_chunk(const double* x, double* out, int64_t rows, int64_t cols, int64_t c0,
                                         int64_t c1) {
  column_sum_impl(x, out, rows, cols, c0, c1);
}

}  // namespace

template <class T>
void matmul(const T* a, Trans ta, const T* b, Trans tb, T* c, int64_t m, int64_t n, int64_t k, T alpha, T beta) {
  gemm_tiled(a, ta, b, tb, c, m, n, k, alpha, beta, [](T*, int64_t, int64_t, int64_t, int64_t) {});
}

template <class T>
void column_sum_accumulate(const T* x, T* out, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  // Each column is summed by one task in row order (deterministic); chunks are multiples of 16
  // columns (a cache line of floats) and at most 256 wide.
  const int64_t chunk = std::min<int64_t>(256, round_up(ceil_div(cols, 16), 16));
  detail::for_each_chunk(cols, chunk, [&](int64_t, int64_t c0, int64_t c1) { column_sum_chunk(x, out, rows, cols, c0, c1); });
}

template <class T>
void linear_forward(const T* x, const T* w, const T* bias, T* y, int64_t rows, int64_t in, int64_t out,
                    bool accumulate) {
  const T beta = (bias != nullptr || accumulate) ? T(1) : T(0);
  gemm_tiled(x, Trans::no, w, Trans::no, y, rows, out, in, T(1), beta,
             [&](T* tile, int64_t, int64_t j0, int64_t tile_rows, int64_t tile_cols) {
               if (bias) bias_tile(tile, out, bias + j0, tile_rows, tile_cols, accumulate);
             });
}

template <class T>
void linear_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* dbias, int64_t rows, int64_t in,
                     int64_t out) {
  if (dx) matmul(dy, Trans::no, w, Trans::yes, dx, rows, in, out);
  matmul(x, Trans::yes, dy, Trans::no, dw, in, out, rows, T(1), T(1));
  if (dbias) column_sum_accumulate(dy, dbias, rows, out);
}

#define TANDEM_INSTANTIATE(T)                                                                               \
  template void matmul<T>(const T*, Trans, const T*, Trans, T*, int64_t, int64_t, int64_t, T, T);          \
  template void column_sum_accumulate<T>(const T*, T*, int64_t, int64_t);                                   \
  template void linear_forward<T>(const T*, const T*, const T*, T*, int64_t, int64_t, int64_t, bool);      \
  template void linear_backward<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t, int64_t);
TANDEM_INSTANTIATE(float)
TANDEM_INSTANTIATE(double)
#undef TANDEM_INSTANTIATE

}  // namespace tandem::compute
