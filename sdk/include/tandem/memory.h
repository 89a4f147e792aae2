/*
 * Device memory for stages (tandem ABI 1.2): the buffers a stage keeps and the few element
 * operations it does on them, provided by the host for the device a run is placed on.
 *
 * A ZeRO stage moves data - gradients into buckets, shards into working copies, reductions into
 * accumulators - but computes nothing of its own. Through this table it does so on any device: on
 * the CPU the host answers with allocations, memcpy and loops; on a GPU with device allocations,
 * copies and small kernels queued on the run's stream (the stream the model computes on), so that a
 * stage's work is ordered with the model's without a synchronisation. A stage never needs CUDA's
 * headers or libraries.
 *
 * Ordering: every call below is queued on `stream` behind the work already there and returns at once
 * on a GPU (done on return on the CPU), except where it says "synchronous". Host buffers that a
 * queued copy reads or writes must stay valid, and unread or unwritten by the host, until a
 * synchronising call (synchronize, square_sum, or wait_copy for copy_async).
 *
 * Working storage: the model computes with parameters of the run's working precision (F32, BF16 or
 * F16). On a GPU they are stored as that type (2 bytes each for BF16/F16); on the CPU, whose kernels
 * are fp32, as fp32 words holding values of that type (tandem/working_precision.hpp).
 * storage_dtype() says which, and to_working / from_working convert between fp32 and that storage.
 * Gradients handed to the model are always F32 buffers.
 *
 * Thread safety: one table serves one rank; copy_async and wait_copy may also be called from other
 * threads (an optimizer's tile hooks), everything else from the rank's thread.
 */
#ifndef TANDEM_MEMORY_H
#define TANDEM_MEMORY_H

#include "tandem/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tandem_memory_ops {
  uint32_t struct_size;
  void* ctx;
  tandem_placement where; /* the device allocate() serves and the stream everything is queued on */

  /* Zeroed device memory of `bytes` (0 gives NULL); release(NULL) does nothing. */
  tandem_status (*allocate)(void* ctx, size_t bytes, void** out, tandem_error* err);
  void (*release)(void* ctx, void* p);
  /* Zeroed host memory that the device copies from and to at full speed (CUDA: pinned); plain host
   * memory on the CPU. */
  tandem_status (*allocate_host)(void* ctx, size_t bytes, void** out, tandem_error* err);
  void (*release_host)(void* ctx, void* p);

  /* dst and src each device or host memory, any direction; the ranges do not overlap. */
  tandem_status (*copy)(void* ctx, void* dst, const void* src, size_t bytes, tandem_error* err);
  tandem_status (*fill_zero)(void* ctx, void* dst, size_t bytes, tandem_error* err);
  /* Device fp32: dst[i] += src[i]. */
  tandem_status (*add)(void* ctx, float* dst, const float* src, size_t n, tandem_error* err);
  /* Device fp32, in place: each value rounded to `dtype` (F32: unchanged), kept as fp32. */
  tandem_status (*round)(void* ctx, float* data, size_t n, uint32_t dtype, tandem_error* err);
  /* The element type working parameters of `dtype` are stored as on this device. */
  uint32_t (*storage_dtype)(void* ctx, uint32_t dtype);
  /* Device: n fp32 values rounded to `dtype`, written as storage_dtype(dtype) elements; and back
   * (exact: storage holds values of `dtype`). */
  tandem_status (*to_working)(void* ctx, void* dst, const float* src, size_t n, uint32_t dtype, tandem_error* err);
  tandem_status (*from_working)(void* ctx, float* dst, const void* src, size_t n, uint32_t dtype,
                                tandem_error* err);
  /* Synchronous. Adds the exact square sum of n device fp32 values into `words`, a host array in
   * tandem/grad_norm.hpp's serialized form (ExactSquareSum::kWords words): the same bits for the same
   * values on every device and in any order. */
  tandem_status (*square_sum)(void* ctx, const float* x, size_t n, uint64_t* words, tandem_error* err);
  /* Synchronous: everything queued so far is done (a fault is reported here). */
  tandem_status (*synchronize)(void* ctx, tandem_error* err);

  /* Copies on a second queue (CUDA: a copy stream), so that they overlap with the main stream and
   * with host work. A copy starts after everything queued on the main stream before the call (the
   * data it reads is ready) and gets a ticket, increasing per table. On the CPU it is done on return. */
  tandem_status (*copy_async)(void* ctx, void* dst, const void* src, size_t bytes, uint64_t* ticket,
                              tandem_error* err);
  /* Synchronous: blocks until the copy with `ticket` and every copy before it are done. */
  tandem_status (*wait_copy)(void* ctx, uint64_t ticket, tandem_error* err);
  /* Work queued on the main stream from now on waits for every copy_async queued so far. */
  tandem_status (*join_copies)(void* ctx, tandem_error* err);

  /* SDK 1.3: a side queue (CUDA: a second stream) for the collectives a stage overlaps with the
   * model's kernels (overlap_comm). After side_begin, this table's calls and the rank's collectives
   * are queued on the side queue, which first waits for everything queued on the main stream so far;
   * side_end returns to the main stream, which does not wait for the side queue. join_side: work
   * queued on the main stream from now on waits for everything queued on the side queue so far. Not
   * nested. Until the join_side after it, main-stream work must not write what side-queued work reads
   * or writes, nor read what it writes (nor release it). Collectives keep their order only within one
   * stream: queue one on the main stream only when no side-queued one may still run (after a
   * join_side), or ranks may run them in different orders and wait for each other. On the CPU all
   * three do nothing. Check with
   * TANDEM_HAS_FIELD(ops->struct_size, tandem_memory_ops, join_side): an older host has no side
   * queue (the Memory wrapper then does nothing, which is still correct). */
  tandem_status (*side_begin)(void* ctx, tandem_error* err);
  tandem_status (*side_end)(void* ctx, tandem_error* err);
  tandem_status (*join_side)(void* ctx, tandem_error* err);
} tandem_memory_ops;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TANDEM_MEMORY_H */
