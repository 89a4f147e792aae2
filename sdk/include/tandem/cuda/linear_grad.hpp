// A linear layer's parameter gradients on the device, y = x W + b with x [rows, in], W [in, out]:
//   dweight [in, out] += x^T dy,   dbias [out] += the column sums of dy [rows, out],
// both fp32 and both accumulating (gradients add up across micro-steps and gradient accumulation).
//
// bf16: the column sums come out of the weight gradient's product (cuBLASLt's bias-gradient
// epilogue, matmul.hpp's Epilogue::bias_grad), so dy is read once instead of twice. The epilogue
// WRITES its sums, so they go to a stream-ordered scratch vector that is then added into dbias: the
// accumulation stays exact (one fp32 add per element, as column_sum_accumulate's last step) whatever
// dbias held. Where cuBLASLt offers no algorithm with that epilogue for the problem, the plain
// product and column_sum_accumulate, as fp32 always does (kept plain for the checks).
#pragma once

#include <cstdint>

#include "tandem/cuda/matmul.hpp"

namespace tandem::cuda {

template <class T>  // float or bf16
void linear_param_grads(Blas& blas, const T* x, const T* dy, float* dweight, float* dbias, int64_t rows, int64_t in,
                        int64_t out, cudaStream_t stream);

}  // namespace tandem::cuda
