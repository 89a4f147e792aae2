// Reference GQA packing, written as transformers' repeat_kv (expand each kv head n_rep times,
// query head h <- kv head h / n_rep); same contracts as tandem/compute/gqa.hpp.
#pragma once

#include <cstdint>

#include "tandem/compute/gqa.hpp"

namespace tandem::compute::ref {

template <class T>
void gqa_pack(const T* q, const T* k, const T* v, T* qkv, int64_t rows, int64_t n_head, int64_t n_kv_head,
              int64_t head_dim) {
  const int64_t C = n_head * head_dim, Ckv = n_kv_head * head_dim, n_rep = n_head / n_kv_head;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < n_head; ++h)
      for (int64_t d = 0; d < head_dim; ++d) {
        qkv[r * 3 * C + h * head_dim + d] = q[r * C + h * head_dim + d];
        qkv[r * 3 * C + C + h * head_dim + d] = k[r * Ckv + (h / n_rep) * head_dim + d];
        qkv[r * 3 * C + 2 * C + h * head_dim + d] = v[r * Ckv + (h / n_rep) * head_dim + d];
      }
}

template <class T>
void gqa_unpack_backward(const T* dqkv, T* dq, T* dk, T* dv, int64_t rows, int64_t n_head, int64_t n_kv_head,
                         int64_t head_dim) {
  const int64_t C = n_head * head_dim, Ckv = n_kv_head * head_dim, n_rep = n_head / n_kv_head;
  for (int64_t i = 0; i < rows * Ckv; ++i) dk[i] = dv[i] = T(0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < n_head; ++h)
      for (int64_t d = 0; d < head_dim; ++d) {
        dq[r * C + h * head_dim + d] = dqkv[r * 3 * C + h * head_dim + d];
        dk[r * Ckv + (h / n_rep) * head_dim + d] += dqkv[r * 3 * C + C + h * head_dim + d];
        dv[r * Ckv + (h / n_rep) * head_dim + d] += dqkv[r * 3 * C + 2 * C + h * head_dim + d];
      }
}

}  // namespace tandem::compute::ref
