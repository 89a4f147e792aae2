// Matrix products through cuBLASLt: bf16 operands (or fp32, below), fp32 accumulation, bf16 or fp32 output, with the
// row-major conventions of tandem/compute/matmul.hpp:
//   c[m,n] = alpha * op(a) * op(b) + beta * c (+ bias[n] broadcast over rows)
// a is [m,k] (Trans::no) or [k,m] (Trans::yes); b is [k,n] or [n,k]. With beta == 0, c is not read.
// The forward of a linear layer is (no, no) with a bias; its backward needs (no, yes) for dx and
// (yes, no) for dw, accumulated into fp32 gradients with beta = 1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tandem/compute/matmul.hpp"
#include "tandem/cuda/runtime.hpp"

namespace tandem::cuda {

using compute::Trans;

// A cuBLASLt handle with its workspace; one per stream that runs products concurrently.
class Blas {
 public:
  explicit Blas(size_t workspace_bytes = size_t(32) << 20);
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  struct Impl;

 private:
  friend struct BlasAccess;
  std::unique_ptr<Impl> impl_;
};

// Out = float or bf16; bias (of Out's type, length n) may be null. Throws Error (naming the shape)
// when cuBLASLt has no algorithm for it.
template <class Out>
void matmul(Blas& blas, const bf16* a, Trans ta, const bf16* b, Trans tb, Out* c, int64_t m, int64_t n, int64_t k,
            cudaStream_t stream, float alpha = 1.0f, float beta = 0.0f, const Out* bias = nullptr);

// What a product does on its way out besides alpha, beta and the bias, in cuBLASLt's epilogue, so
// that a linear layer's neighbours cost no pass of their own over its [m, n] output.
struct Epilogue {
  // [m, n] of the output's type, read as the beta term instead of c (which is then only written):
  // a residual added without first copying it into c. Null: c itself, as in the plain call.
  const void* addend = nullptr;
  enum class Gelu { none, forward, backward };
  Gelu gelu = Gelu::none;
  // [m, n] of the output's type, 16-byte aligned, n a multiple of 8. forward: the pre-activation
  // (product + bias) is written here and c gets its GELU (tanh approximation); backward: read, and c
  // gets the product times GELU'(pre-activation) (no bias then).
  void* gelu_input = nullptr;
  // [n] fp32, with Out = float and no bias or GELU: the sums of op(b) over its k rows, WRITTEN here
  // (not added), in the same pass: a linear layer's bias gradient beside its weight gradient
  // dW = x^T dy, b = dy. cuBLASLt's BGRADA (its A is our b: matmul.cu), taken with alpha = 1.
  float* bias_grad = nullptr;
};

template <class Out>
void matmul(Blas& blas, const bf16* a, Trans ta, const bf16* b, Trans tb, Out* c, int64_t m, int64_t n, int64_t k,
            cudaStream_t stream, float alpha, float beta, const Out* bias, const Epilogue& epilogue);

// As the call above, but returns false, having queued nothing, where cuBLASLt has no algorithm for
// this problem and epilogue (an epilogue it may not offer for every shape or type: bias_grad),
// instead of throwing; other failures still throw.
template <class Out>
bool try_matmul(Blas& blas, const bf16* a, Trans ta, const bf16* b, Trans tb, Out* c, int64_t m, int64_t n,
                int64_t k, cudaStream_t stream, float alpha, float beta, const Out* bias, const Epilogue& epilogue);

// fp32 operands and output in true fp32 (CUBLAS_COMPUTE_32F, no TF32): the precision of the CPU
// path, for the fp32 model and its checks against references.
void matmul(Blas& blas, const float* a, Trans ta, const float* b, Trans tb, float* c, int64_t m, int64_t n, int64_t k,
            cudaStream_t stream, float alpha = 1.0f, float beta = 0.0f, const float* bias = nullptr);

}  // namespace tandem::cuda
