/*
 * The stage kind's function table (tandem ABI 1.0; 1.1 appended tandem_stage_options.param_dtype; 1.2
 * appended tandem_stage_setup.memory, the device the stage keeps its buffers on):
 * a ZeRO stage owns one rank's model state and decides how it is partitioned.
 *
 * Per rank, the host gives the stage the model's parameter list, the communicator and the optimizer.
 * The stage allocates what this rank holds (parameters, gradients, fp32 master weights; the
 * optimizer allocates its own state for the shard the stage gives it), hands the model a
 * tandem_param_access (gather a layer before use, release it after; reduce gradients as layers finish
 * backward), and on step() runs the optimizer on its shard and makes the updated parameters available
 * to every rank again.
 *
 * Numerics every stage keeps, so that stages 1-3 equal stage 0 bit for bit:
 *   - each micro-step's gradients are reduced over ranks (sum in rank order, times 1/world_size) and
 *     then added to the accumulated gradient;
 *   - the gradient norm is the exact square sum of tandem/grad_norm.hpp, independent of partitioning;
 *   - the optimizer updates element by element, whatever the slice.
 *
 * Thread safety: an instance serves one rank; the host calls it from that rank's thread only.
 */
#ifndef TANDEM_STAGE_H
#define TANDEM_STAGE_H

#include "tandem/comm.h"
#include "tandem/memory.h"
#include "tandem/model.h"
#include "tandem/optimizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The resolved zero_optimization values a stage may use (elements, not bytes, as in DeepSpeed). */
typedef struct tandem_stage_options {
  uint32_t struct_size;
  int64_t reduce_bucket_size;
  int64_t allgather_bucket_size;
  int32_t overlap_comm;
  int32_t contiguous_gradients;
  int64_t prefetch_bucket_size;        /* stage3_prefetch_bucket_size */
  int64_t max_live_parameters;         /* stage3_max_live_parameters */
  int64_t max_reuse_distance;          /* stage3_max_reuse_distance */
  int64_t param_persistence_threshold; /* stage3_param_persistence_threshold */
  int64_t model_persistence_threshold; /* stage3_model_persistence_threshold */
  int32_t offload_optimizer;           /* 1: optimizer state and master weights in host memory */
  /* SDK 1.1. The working precision of parameters and gradients (the "bf16" / "fp16" blocks):
   * TANDEM_DTYPE_F32, _BF16 or _F16. The master weights and the optimizer stay fp32; the model
   * computes with parameters rounded to this type from the master, and each micro-step's gradients
   * are rounded to it before they are reduced (tandem/working_precision.hpp). A stage built against
   * SDK 1.0 does not see this field; the host runs such a stage in fp32 only. 0 also means F32. */
  int32_t param_dtype;
} tandem_stage_options;

typedef struct tandem_stage_setup {
  uint32_t struct_size;
  int32_t rank;       /* global rank */
  int32_t world_size;
  int32_t local_rank; /* the index to pass to the communicator */
  const tandem_model_param* params; /* the model's parameter list, in the model's order */
  uint32_t param_count;
  int32_t layer_count;
  const uint32_t* param_groups;     /* optimizer group of each parameter, 0..group_count-1 */
  uint32_t group_count;
  void* comm;                       /* the communicator instance and its table */
  const tandem_comm_vtable* comm_vtable;
  void* optimizer;                  /* NULL for an inference-only (forward) stage */
  const tandem_optimizer_vtable* optimizer_vtable;
  tandem_stage_options options;
  /* SDK 1.2: where the stage keeps the buffers the model and the communicator see, and the element
   * operations on them (tandem/memory.h); valid as long as the instance. A stage that allocates
   * through it runs on any device the host places the run on. The host refuses a GPU run to a stage
   * built against an older SDK (it would hand the model host memory). */
  const tandem_memory_ops* memory;
} tandem_stage_setup;

typedef struct tandem_stage_step_args {
  uint32_t struct_size;
  int64_t step;                /* 1-based, this step included */
  double grad_scale;           /* gradients are multiplied by this (clipping) before the update */
  const tandem_optimizer_hparams* group_hparams; /* group_count entries */
  uint32_t group_count;
} tandem_stage_step_args;

/* Bytes of model state this rank holds, by kind. */
typedef struct tandem_stage_memory {
  uint32_t struct_size;
  uint64_t param_bytes;           /* working parameters resident between steps (whole or shard) */
  uint64_t grad_bytes;            /* accumulated gradients */
  uint64_t master_bytes;          /* fp32 master weights (0 when the working params are the master) */
  uint64_t optimizer_state_bytes; /* the optimizer's state for this rank's shard */
  uint64_t peak_gathered_bytes;   /* ZeRO-3: most parameter bytes gathered at once so far */
} tandem_stage_memory;

typedef struct tandem_stage_vtable {
  uint32_t struct_size;
  /* Allocates this rank's partitions. Called once. A stage that needs an optimizer and got none
   * returns INVALID_ARGUMENT saying why (DeepSpeed: stages 1 and 2 require an optimizer). */
  tandem_status (*setup)(void* self, const tandem_stage_setup* setup, tandem_error* err);
  /* Sets parameter `index` from its full value (fp32, true shape; initial values or a checkpoint);
   * each rank keeps what it owns. Called on every rank with the same values. */
  tandem_status (*set_param)(void* self, uint32_t index, const tandem_tensor_view* full, tandem_error* err);
  /* Collective: writes the full value of parameter `index` (fp32) into `out` on every rank. */
  tandem_status (*get_param)(void* self, uint32_t index, tandem_tensor_view* out, tandem_error* err);
  /* The access table the model uses in forward and backward; valid as long as the instance. */
  const tandem_param_access* (*param_access)(void* self);
  /* Collective: completes the reduction of this micro-step's gradients into the accumulated ones. */
  tandem_status (*end_backward)(void* self, tandem_error* err);
  /* Collective: the L2 norm of the accumulated gradients over the whole model. */
  tandem_status (*grad_norm)(void* self, double* norm, tandem_error* err);
  /* Collective: updates this rank's shard, makes the new parameters available, zeroes the gradients. */
  tandem_status (*step)(void* self, const tandem_stage_step_args* args, tandem_error* err);
  /* Zeroes the accumulated gradients without stepping (a skipped step). */
  tandem_status (*zero_grads)(void* self, tandem_error* err);
  tandem_status (*memory)(const void* self, tandem_stage_memory* out, tandem_error* err);
  /* Checkpoints: the fp32 master shard of optimizer group `group` on this rank, and where it lies
   * in the group's flattened, padded buffer (offset and the buffer's padded length). */
  tandem_status (*master_shard)(void* self, uint32_t group, tandem_tensor_view* shard, uint64_t* offset,
                                uint64_t* padded_numel, tandem_error* err);
} tandem_stage_vtable;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TANDEM_STAGE_H */
