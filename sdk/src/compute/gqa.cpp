// GQA packing on CPU, tokens in fixed chunks (contracts: tandem/compute/gqa.hpp). The backward sums
// each group's query heads in head order, so the result does not depend on the thread count.
#include "tandem/compute/gqa.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

#include "parallel.hpp"

namespace tandem::compute {
namespace {

void check_heads(int64_t n_head, int64_t n_kv_head, int64_t head_dim) {
  if (n_head <= 0 || n_kv_head <= 0 || head_dim <= 0 || n_head % n_kv_head != 0)
    throw std::invalid_argument("gqa: n_kv_head (" + std::to_string(n_kv_head) + ") must divide n_head (" +
                                std::to_string(n_head) + "), head_dim " + std::to_string(head_dim) + " > 0");
}

}  // namespace

template <class T>
void gqa_pack(const T* q, const T* k, const T* v, T* qkv, int64_t rows, int64_t n_head, int64_t n_kv_head,
              int64_t head_dim) {
  check_heads(n_head, n_kv_head, head_dim);
  const int64_t C = n_head * head_dim, Ckv = n_kv_head * head_dim, n_rep = n_head / n_kv_head;
  const size_t head_bytes = static_cast<size_t>(head_dim) * sizeof(T);
  detail::for_each_chunk(rows, detail::rows_per_chunk(3 * C), [&](int64_t, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T* out = qkv + r * 3 * C;
      std::memcpy(out, q + r * C, static_cast<size_t>(C) * sizeof(T));
      for (int64_t h = 0; h < n_head; ++h) {
        std::memcpy(out + C + h * head_dim, k + r * Ckv + (h / n_rep) * head_dim, head_bytes);
        std::memcpy(out + 2 * C + h * head_dim, v + r * Ckv + (h / n_rep) * head_dim, head_bytes);
      }
    }
  });
}

template <class T>
void gqa_unpack_backward(const T* dqkv, T* dq, T* dk, T* dv, int64_t rows, int64_t n_head, int64_t n_kv_head,
                         int64_t head_dim) {
  check_heads(n_head, n_kv_head, head_dim);
  const int64_t C = n_head * head_dim, Ckv = n_kv_head * head_dim, n_rep = n_head / n_kv_head;
  detail::for_each_chunk(rows, detail::rows_per_chunk(3 * C), [&](int64_t, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* in = dqkv + r * 3 * C;
      std::memcpy(dq + r * C, in, static_cast<size_t>(C) * sizeof(T));
      for (int64_t g = 0; g < n_kv_head; ++g) {
        T* dkg = dk + r * Ckv + g * head_dim;
        T* dvg = dv + r * Ckv + g * head_dim;
        for (int64_t d = 0; d < head_dim; ++d) dkg[d] = dvg[d] = T(0);
        for (int64_t h = g * n_rep; h < (g + 1) * n_rep; ++h)
          for (int64_t d = 0; d < head_dim; ++d) {
            dkg[d] += in[C + h * head_dim + d];
            dvg[d] += in[2 * C + h * head_dim + d];
          }
      }
    }
  });
}

template void gqa_pack<float>(const float*, const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t);
template void gqa_pack<double>(const double*, const double*, const double*, double*, int64_t, int64_t, int64_t,
                               int64_t);
template void gqa_unpack_backward<float>(const float*, float*, float*, float*, int64_t, int64_t, int64_t, int64_t);
template void gqa_unpack_backward<double>(const double*, double*, double*, double*, int64_t, int64_t, int64_t,
                                          int64_t);

}  // namespace tandem::compute
