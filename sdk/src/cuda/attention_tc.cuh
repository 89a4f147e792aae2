// Internal to tandem_cuda: the bf16 causal attention on the tensor cores (attention_tc.cu), behind
// tandem/cuda/attention.hpp's bf16 instantiations. Same contract as there; the caller has checked
// the shape (B, T, C, n_head > 0, hd = C / n_head, B * n_head <= 65535).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace tandem::cuda::detail {

// Whether the tensor-core kernels take this call: head sizes 32 and 64 (GPT-2's), rows that start
// 16-byte aligned. The others take the CUDA-core kernels.
bool attention_tc_supports(const void* qkv, const void* y, int64_t C, int64_t n_head);

void attention_forward_tc(const __nv_bfloat16* qkv, __nv_bfloat16* y, float* lse, int64_t B, int64_t T, int64_t C,
                          int64_t n_head, cudaStream_t stream);

// delta [B, n_head, T]: dy_t . y_t of each row, computed by the caller.
void attention_backward_tc(const __nv_bfloat16* dy, const __nv_bfloat16* qkv, const float* lse, const float* delta,
                           __nv_bfloat16* dqkv, int64_t B, int64_t T, int64_t C, int64_t n_head, cudaStream_t stream);

}  // namespace tandem::cuda::detail
