/*
 * The communicator kind's function table (tandem ABI 1.0; 1.2 appended memory() and set_stream()).
 *
 * One communicator instance serves every rank that lives in this process: `local` runs N ranks as
 * threads (local_rank_count = N), `nccl` one rank per process (local_rank_count = 1). Each call names
 * the local rank it is made for; a collective returns on a rank once that rank's part is done, and
 * every rank of the group must make the same collectives in the same order.
 *
 * Host-memory communicators (`local`): reductions are sums over ranks in rank order 0..N-1 (then a
 * multiply by 1/N for AVERAGE), so that a run is bitwise reproducible and a reduce-scatter gives
 * exactly the elements an all-reduce gives. Device communicators (`nccl`, SDK 1.2): buffers are
 * device memory, each collective is queued on the rank's stream (set_stream) and returns before it
 * is done, and the order of a reduction's sum is the library's (deterministic for one world size
 * and topology, not rank order).
 *
 * Failure: if one rank calls abort(), every rank blocked in or later entering a collective returns
 * TANDEM_STATUS_INTERNAL with "rank R failed: <message>": a failing rank ends the others, never a hang.
 */
#ifndef TANDEM_COMM_H
#define TANDEM_COMM_H

#include "tandem/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tandem_reduce_op {
  TANDEM_REDUCE_SUM = 1,
  TANDEM_REDUCE_AVERAGE = 2, /* sum in rank order, then multiply by 1/world_size */
  TANDEM_REDUCE_MAX = 3
} tandem_reduce_op;

typedef struct tandem_comm_vtable {
  uint32_t struct_size;
  /* Ranks in the whole group, and the ranks this instance serves in this process. Global rank of
   * local rank i is first_rank + i. */
  int32_t (*world_size)(const void* self);
  int32_t (*local_rank_count)(const void* self);
  int32_t (*first_rank)(const void* self);

  /* In place on `buffer` (count elements of dtype F32 or F64). Blocks until every rank contributed. */
  tandem_status (*all_reduce)(void* self, int32_t local_rank, void* buffer, size_t count, uint32_t dtype,
                              uint32_t op, tandem_error* err);
  /* `input` holds world_size * count elements; rank r receives the reduction of slice r into
   * `output` (count elements). */
  tandem_status (*reduce_scatter)(void* self, int32_t local_rank, const void* input, void* output, size_t count,
                                  uint32_t dtype, uint32_t op, tandem_error* err);
  /* Each rank gives `count` elements in `input`; `output` receives world_size * count, rank r's at
   * slice r. `input` may alias slice r of `output`. */
  tandem_status (*all_gather)(void* self, int32_t local_rank, const void* input, void* output, size_t count,
                              uint32_t dtype, tandem_error* err);
  /* Bytes: root's `buffer` is copied into every rank's `buffer`. */
  tandem_status (*broadcast)(void* self, int32_t local_rank, void* buffer, size_t bytes, int32_t root,
                             tandem_error* err);
  tandem_status (*barrier)(void* self, int32_t local_rank, tandem_error* err);
  /* Marks the rank as failed; every other rank's pending and later collectives fail with `message`.
   * Never blocks. */
  void (*abort)(void* self, int32_t local_rank, const char* message);
  /* SDK 1.2. The memory the collectives take: TANDEM_DEVICE_CPU (host buffers, calls complete before
   * they return) or TANDEM_DEVICE_CUDA (device buffers, calls queued on the rank's stream). */
  uint32_t (*memory)(const void* self);
  /* SDK 1.2, device communicators: the stream (cudaStream_t) later collectives of `local_rank` are
   * queued on, behind the work already there. A host communicator accepts only NULL. */
  tandem_status (*set_stream)(void* self, int32_t local_rank, void* stream, tandem_error* err);
} tandem_comm_vtable;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TANDEM_COMM_H */
