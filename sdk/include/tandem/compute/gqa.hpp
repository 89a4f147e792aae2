// Grouped-query attention (Ainslie et al. 2023) on top of the fused multi-head attention kernel
// (attention.hpp): K and V have n_kv_head heads, each shared by n_head / n_kv_head query heads,
// as transformers' repeat_kv does (query head h reads kv head h / (n_head / n_kv_head)). The pack
// lays q, k and v out as attention.hpp's qkv [rows, 3 * n_head * head_dim] with each kv head
// repeated; the backward sums the repeated heads' gradients back onto their kv head.
#pragma once

#include <cstdint>

namespace tandem::compute {

// q: [rows, n_head * head_dim]; k, v: [rows, n_kv_head * head_dim]; qkv: [rows, 3 * n_head * head_dim].
// n_kv_head must divide n_head (n_kv_head == n_head is plain multi-head attention).
template <class T>
void gqa_pack(const T* q, const T* k, const T* v, T* qkv, int64_t rows, int64_t n_head, int64_t n_kv_head,
              int64_t head_dim);

// dqkv [rows, 3 * n_head * head_dim] -> dq [rows, n_head * head_dim], dk, dv [rows, n_kv_head * head_dim],
// all three overwritten; dk and dv are the sums over each kv head's group of query heads.
template <class T>
void gqa_unpack_backward(const T* dqkv, T* dq, T* dk, T* dv, int64_t rows, int64_t n_head, int64_t n_kv_head,
                         int64_t head_dim);

}  // namespace tandem::compute
