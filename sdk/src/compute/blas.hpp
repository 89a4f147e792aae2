// The one place that talks to BLAS (OpenBLAS's CBLAS interface).
//
// Threading decision: BLAS runs single-threaded and oneTBB does all the parallel work.
//  - Kernels split a product into tiles (matmul.cpp) or per-head products (attention.cpp) and run
//    them as TBB tasks, each one single-threaded BLAS call. One pool (TBB's) then schedules all
//    the work of the process, including N ranks running as threads, with no oversubscription.
//  - OpenBLAS's own pool is process-wide: two ranks calling a multi-threaded sgemm at once either
//    serialise on it or oversubscribe the cores (2 ranks x 16 BLAS threads on 16 cores), and it
//    cannot share cores with TBB tasks that run alongside (LayerNorm, GELU of another rank).
//  - Measured on 2 cores (tools/bench, 4-layer 128-wide GPT): tiles on TBB with 1-thread BLAS
//    were as fast as OpenBLAS's own 2 threads on the big products and faster on the small ones
//    (thread wake-up costs more than a 128x128 product).
//  - The tiling is a function of the shape only, so results do not depend on the thread count.
// openblas_set_num_threads(1) is called once, before the first product, and is idempotent; it is
// the library's configuration, not state of ours. OPENBLAS_NUM_THREADS=1 in the environment would
// do the same from the start and also avoid OpenBLAS creating its idle pool.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace tandem::compute::detail {

// Makes sure BLAS is single-threaded; cheap after the first call (thread-safe static).
void blas_use_single_thread();

// Row-major C[m,n] = alpha op(A) op(B) + beta C with leading dimensions (CBLAS semantics).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

// BLAS takes 32-bit sizes (Debian's OpenBLAS is built without INTERFACE64).
inline void check_blas_size(int64_t v, const char* what) {
  if (v < 0 || v > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument(std::string("matmul: ") + what + " = " + std::to_string(v) +
                                " does not fit BLAS's 32-bit sizes");
}

}  // namespace tandem::compute::detail
