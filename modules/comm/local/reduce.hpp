// The reductions of the local communicator, in a fixed order so that runs are bitwise reproducible.
//
// Element i of a reduction over ranks 0..N-1 is
//   SUM:      ((x0[i] + x1[i]) + x2[i]) + ... + x(N-1)[i]     in rank order, in the element type
//   AVERAGE:  the SUM times tandem::sdk::average_factor<T>(N) (1/N rounded once in T; a multiply, not
//             a division, so N = 3 gives sum * 0.33333334f for F32)
//   MAX:      the largest, scanning in rank order; a NaN anywhere gives NaN
// It depends on element i of each rank's input only. So any cut of the elements between workers
// gives the same bits, and slice r of an all_reduce equals what reduce_scatter gives rank r: both
// call reduce_range. Built with -ffp-contract=off: the sum and the multiply stay two roundings.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tandem/comm.h"
#include "tandem/comm.hpp"

namespace tandem_local_comm {

// Reduces elements [begin, begin + n) of inputs[0..ranks-1] and writes the result to elements
// [out_begin, out_begin + n) of each of outputs[0..output_count-1]. An output may be one of the
// inputs (in place): each chunk is read completely before it is written.
// The pointers are untyped (the collective's dtype says T) so that one scratch list serves every dtype.
template <class T>
void reduce_range(const void* const* inputs, int32_t ranks, size_t begin, size_t n, tandem_reduce_op op,
                  void* const* outputs, size_t output_count, size_t out_begin) {
  constexpr size_t kChunk = 1024;  // on the stack; a few KB per worker
  T acc[kChunk];
  const T factor = tandem::sdk::average_factor<T>(ranks);
  for (size_t base = 0; base < n; base += kChunk) {
    const size_t m = std::min(kChunk, n - base);
    std::memcpy(acc, static_cast<const T*>(inputs[0]) + begin + base, m * sizeof(T));
    for (int32_t r = 1; r < ranks; ++r) {
      const T* __restrict__ x = static_cast<const T*>(inputs[r]) + begin + base;
      if (op == TANDEM_REDUCE_MAX) {
        for (size_t i = 0; i < m; ++i) acc[i] = (x[i] > acc[i] || x[i] != x[i]) ? x[i] : acc[i];
      } else {
        for (size_t i = 0; i < m; ++i) acc[i] = acc[i] + x[i];
      }
    }
    if (op == TANDEM_REDUCE_AVERAGE)
      for (size_t i = 0; i < m; ++i) acc[i] = acc[i] * factor;
    for (size_t o = 0; o < output_count; ++o)
      std::memcpy(static_cast<T*>(outputs[o]) + out_begin + base, acc, m * sizeof(T));
  }
}

// The part of `count` elements that rank r of `ranks` reduces for an all_reduce: [begin, end).
inline size_t slice_begin(size_t count, int32_t ranks, int32_t r) {
  const size_t n = static_cast<size_t>(ranks), i = static_cast<size_t>(r);
  return count / n * i + std::min(i, count % n);
}

}  // namespace tandem_local_comm
