// A linear layer's weight and bias gradients (the contract: tandem/cuda/linear_grad.hpp).
#include <cstdint>

#include "check.cuh"
#include "tandem/cuda/column_sum.hpp"
#include "tandem/cuda/linear_grad.hpp"
#include "tandem/cuda/memory_ops.hpp"

namespace tandem::cuda {

template <class T>
void linear_param_grads(Blas& blas, const T* x, const T* dy, float* dweight, float* dbias, int64_t rows, int64_t in,
                        int64_t out, cudaStream_t stream) {
  if (rows <= 0 || in <= 0 || out <= 0)
    throw Error("linear_param_grads: bad shape rows=" + std::to_string(rows) + " in=" + std::to_string(in) +
                " out=" + std::to_string(out));
  if constexpr (std::is_same_v<T, bf16>) {
    // The sums' address is 256-byte aligned whatever the pool returns: cuBLASLt's algorithm choice
    // depends on the alignment (matmul.cu's AlgoKey), and one choice for every call keeps runs
    // reproducible bit for bit (ZeRO stages against each other, resumed runs).
    void* raw = nullptr;
    const size_t bytes = size_t(out) * sizeof(float) + 256;
    detail::check(cudaMallocAsync(&raw, bytes, stream),
                  "linear_param_grads bias gradient scratch of " + std::to_string(bytes) + " bytes");
    float* sums = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(raw) + 255) & ~uintptr_t(255));
    Epilogue epilogue;
    epilogue.bias_grad = sums;
    bool fused = false;
    try {
      fused = try_matmul<float>(blas, x, Trans::yes, dy, Trans::no, dweight, in, out, rows, stream, 1.0f, 1.0f,
                                nullptr, epilogue);
      if (fused) add(dbias, sums, out, stream);  // the epilogue wrote the sums; dbias accumulates them
    } catch (...) {
      cudaFreeAsync(raw, stream);  // the error in flight is the one to report
      throw;
    }
    detail::check(cudaFreeAsync(raw, stream), "linear_param_grads scratch free");
    if (fused) return;
  }
  matmul(blas, x, Trans::yes, dy, Trans::no, dweight, in, out, rows, stream, 1.0f, 1.0f);
  column_sum_accumulate(dy, dbias, rows, out, stream);
}

template void linear_param_grads<float>(Blas&, const float*, const float*, float*, float*, int64_t, int64_t, int64_t,
                                        cudaStream_t);
template void linear_param_grads<bf16>(Blas&, const bf16*, const bf16*, float*, float*, int64_t, int64_t, int64_t,
                                       cudaStream_t);

}  // namespace tandem::cuda
