// Internal to tandem_cuda: rows of bf16 or float read and written 16 bytes at a time (8 bf16 or 4
// floats per load). A memory-bound kernel moves a row several times faster with 16-byte accesses
// than with one element per thread.
//
// A row need not start on a 16-byte boundary (GPT-2's vocabulary is 50257 wide, so the rows of a
// [rows, 50257] bf16 matrix start at each of the eight 2-byte offsets within 16 bytes). A RowChunks
// therefore cuts the row at the 16-byte boundaries of memory: chunk c holds elements
// [c * N - offset, c * N - offset + N), the first and last chunks partial. Interior chunks of a row whose start is aligned like the row it was
// built for go through one vector access; partial chunks, and every chunk of a row aligned
// differently, go element by element, touching only the row's own elements (a neighbour row may be
// another block's to write, and the buffer may end right after the row).
#pragma once

#include <cstdint>

#include "check.cuh"

namespace tandem::cuda::detail {

template <class D>
inline constexpr int kChunk = 16 / int(sizeof(D));

template <class D>
struct RowChunks {
  int offset;      // lanes of chunk 0 before the row starts (the row's misalignment, in elements)
  int64_t count;   // chunks covering the row
  int64_t length;  // elements in the row

  __device__ RowChunks(const D* row, int64_t n)
      : offset(int(reinterpret_cast<uintptr_t>(row) % 16) / int(sizeof(D))),
        count((n + offset + kChunk<D> - 1) / kChunk<D>),
        length(n) {}
  // The index in the row of chunk c's first lane (negative for lanes before the row).
  __device__ int64_t first(int64_t c) const { return c * kChunk<D> - offset; }
  __device__ bool valid(int64_t c, int i) const {
    const int64_t j = first(c) + i;
    return j >= 0 && j < length;
  }
  // True where `other` is aligned as `row`, the row these chunks were cut for: only then do its
  // interior chunks start on 16-byte boundaries too.
  __device__ static bool same_alignment(const void* row, const void* other) {
    return reinterpret_cast<uintptr_t>(row) % 16 == reinterpret_cast<uintptr_t>(other) % 16;
  }
  __device__ bool whole(int64_t c) const { return first(c) >= 0 && first(c) + kChunk<D> <= length; }

  // Lanes of chunk c as floats; lanes outside the row read as `fill`.
  __device__ void load(const D* row, int64_t c, bool vector_ok, float (&out)[kChunk<D>], float fill) const {
    const int64_t j0 = first(c);
    if (vector_ok && whole(c)) {
      const uint4 v = *reinterpret_cast<const uint4*>(row + j0);
      unpack(v, out);
      return;
    }
#pragma unroll
    for (int i = 0; i < kChunk<D>; ++i) out[i] = valid(c, i) ? to_f32(row[j0 + i]) : fill;
  }
  // Writes the lanes of chunk c that lie in the row.
  __device__ void store(D* row, int64_t c, bool vector_ok, const float (&in)[kChunk<D>]) const {
    const int64_t j0 = first(c);
    if (vector_ok && whole(c)) {
      *reinterpret_cast<uint4*>(row + j0) = pack(in);
      return;
    }
#pragma unroll
    for (int i = 0; i < kChunk<D>; ++i)
      if (valid(c, i)) row[j0 + i] = from_f32<D>(in[i]);
  }

 private:
  __device__ static void unpack(const uint4& v, float (&out)[kChunk<D>]) {
    if constexpr (sizeof(D) == 4) {
      out[0] = __uint_as_float(v.x);
      out[1] = __uint_as_float(v.y);
      out[2] = __uint_as_float(v.z);
      out[3] = __uint_as_float(v.w);
    } else {
      const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int k = 0; k < 4; ++k) {  // bf16 -> fp32 is the 16 bits on top of a zero mantissa tail
        out[2 * k] = __uint_as_float(w[k] << 16);
        out[2 * k + 1] = __uint_as_float(w[k] & 0xffff0000u);
      }
    }
  }
  __device__ static uint4 pack(const float (&in)[kChunk<D>]) {
    if constexpr (sizeof(D) == 4) {
      return make_uint4(__float_as_uint(in[0]), __float_as_uint(in[1]), __float_as_uint(in[2]),
                        __float_as_uint(in[3]));
    } else {
      uint32_t w[4];
#pragma unroll
      for (int k = 0; k < 4; ++k)
        w[k] = uint32_t(__bfloat16_as_ushort(bf16_rne(in[2 * k]))) |
               (uint32_t(__bfloat16_as_ushort(bf16_rne(in[2 * k + 1]))) << 16);
      return make_uint4(w[0], w[1], w[2], w[3]);
    }
  }
};

}  // namespace tandem::cuda::detail
