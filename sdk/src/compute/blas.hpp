// The one place that talks to BLAS (OpenBLAS's CBLAS interface).
//
// Threading decision: BLAS runs single-threaded and oneTBB does all the parallel work.
//  - Kernels split a product into tiles (matmul.cpp) or per-head products (attention.cpp) and run
//    them as TBB tasks, each one single-threaded BLAS call. One pool (TBB's) then schedules all
//    the work of the process, including N ranks running as threads, with no oversubscription.
//  - OpenBLAS's own pool is process-wide: two ranks calling a multi-threaded sgemm at once either
//    serialise on it or oversubscribe the cores (2 ranks x 16 BLAS threads on 16 cores), and it
//    cannot share cores with TBB tasks that run alongside (LayerNorm, GELU of another rank).
//  - Measured (GPU machine's Xeon, 2 threads, SkylakeX kernels; shapes of a 4-layer 128-wide GPT
//    at batch 16 x 128): TBB tiles of 1-thread sgemm vs one OpenBLAS call on 2 threads, in GFLOP/s:
//    2048x384x128 167 vs 187, 2048x128x512 146 vs 139, 128x512x2048 (a weight gradient) 128 vs
//    168, 2048x256x128 172 vs 164, one head's 128x128x32 79 vs 59. About even, and the tiles keep
//    the other properties above.
//  - The tiling is a function of the shape only, so results do not depend on the thread count.
// openblas_set_num_threads(1) is called once, when OpenBLAS is loaded; it is the library's
// configuration, not state of ours.
//
// Loading: OpenBLAS is opened with dlopen on first use rather than linked, because it picks its
// kernels once, in its load-time constructor, from a table of CPU models, and 0.3.21 (Debian 12)
// does not know recent ones: on the GPU machine's Xeon (family 6, model 207) it falls back to its
// generic "Prescott" SSE3 kernels, 16 GFLOP/s per core instead of ~125 with its AVX-512 kernels.
// So before opening it, and only where the user has not set it, OPENBLAS_CORETYPE is set from the
// CPU's own feature bits (x86-64-v4 -> SkylakeX, AVX2+FMA -> Haswell), and OPENBLAS_NUM_THREADS=1
// so that it does not start a thread pool we would never use; both are restored right after. If
// the process already has OpenBLAS loaded, that copy is used as it is. blas_info()
// (tandem/compute/blas_info.hpp) reports what was chosen.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace tandem::compute::detail {

// Loads OpenBLAS if needed (see above) and makes sure it is single-threaded; cheap after the
// first call (a thread-safe static). Throws std::runtime_error if OpenBLAS cannot be opened.
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
