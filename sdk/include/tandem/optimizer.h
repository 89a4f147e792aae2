/*
 * The optimizer kind's function table (tandem ABI 1.0; 1.1 appended the shard's parameter pieces; 1.2
 * appended place() and the tile hooks of a step).
 *
 * An optimizer updates one contiguous fp32 shard of master weights from a shard of gradients. The
 * shard is what a ZeRO stage gives this rank: the whole flattened model under ZeRO-0, slice r of it
 * under ZeRO-1..3. Parameter groups are ranges of the shard, each with its own hyper-parameters,
 * which the host sets on every step (the scheduler changes lr, and OneCycle the betas).
 *
 * Capabilities are declared, never guessed from a name: ZeRO-Offload picks an optimizer that can run
 * on the host; an optimizer that needs whole matrices (Muon) is refused a sharded layout.
 *
 * Thread safety: an instance serves one rank; calls on one instance are not concurrent.
 */
#ifndef TANDEM_OPTIMIZER_H
#define TANDEM_OPTIMIZER_H

#include "tandem/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  TANDEM_OPTIMIZER_RUNS_ON_HOST = 1u << 0,        /* step() takes host (CPU) memory */
  TANDEM_OPTIMIZER_RUNS_ON_DEVICE = 1u << 1,      /* step() takes CUDA memory */
  TANDEM_OPTIMIZER_NEEDS_WHOLE_MATRICES = 1u << 2, /* cannot update a slice of a parameter */
  TANDEM_OPTIMIZER_CALLS_TILE_HOOKS = 1u << 3      /* SDK 1.2: step() calls the args' tile hooks */
};

/* Hyper-parameters of one group. Fields an optimizer does not use are ignored (Lion: eps). */
typedef struct tandem_optimizer_hparams {
  uint32_t struct_size;
  double lr;
  double beta1;
  double beta2;
  double eps;
  double weight_decay;
} tandem_optimizer_hparams;

/* A range [offset, offset + count) of the shard and its hyper-parameters. */
typedef struct tandem_optimizer_group {
  uint32_t struct_size;
  size_t offset;
  size_t count;
  tandem_optimizer_hparams hparams;
} tandem_optimizer_group;

/* SDK 1.1: a piece of one parameter inside the shard. Shard elements [shard_offset, shard_offset +
 * count) are elements [param_offset, param_offset + count) of parameter `param` (row-major in its true
 * shape). Under ZeRO-0 every piece is a whole parameter; under ZeRO-1..3 with several ranks a piece
 * may be a slice, which is why an optimizer that works on whole matrices declares
 * TANDEM_OPTIMIZER_NEEDS_WHOLE_MATRICES and checks `count` against the shape. */
typedef struct tandem_optimizer_piece {
  uint32_t struct_size;
  uint32_t param;       /* index in the model's parameter list */
  const char* name;     /* the parameter's name (Hugging Face's, for the GPT model) */
  uint32_t ndim;
  int64_t shape[TANDEM_MAX_DIMS]; /* the parameter's true shape */
  size_t param_offset;  /* the piece's first element within the parameter */
  size_t shard_offset;  /* where the piece starts in the shard */
  size_t count;
} tandem_optimizer_piece;

typedef struct tandem_optimizer_step_args {
  uint32_t struct_size;
  int64_t step;         /* 1-based count of steps taken, this one included (bias correction) */
  float* params;        /* fp32 master weights of the shard, updated in place */
  const void* grads;    /* the shard's gradients */
  uint32_t grad_dtype;  /* TANDEM_DTYPE_F32 or TANDEM_DTYPE_BF16 */
  double grad_scale;    /* multiply each gradient by this first (clipping, loss-scale removal) */
  size_t numel;         /* elements in the shard */
  const tandem_optimizer_group* groups;
  uint32_t group_count; /* groups cover [0, numel) in order, without overlap (padding may be left out) */
  void* params_bf16;    /* optional: also write the updated params here as bf16 (round to nearest even) */
  /* SDK 1.1: the shard's parameter pieces, in shard order, padding in none. A stage built against
   * SDK 1.0 passes the 1.0 struct_size (without these fields): no pieces are known then. */
  const tandem_optimizer_piece* pieces;
  uint32_t piece_count;
  /* SDK 1.2, optional (NULL: none): an optimizer that walks the shard in pieces calls before_tile
   * before it reads shard elements [offset, offset + count) (params, grads, state) and after_tile
   * once it has written them (params, params_bf16, state), so that a stage can stream a host-side
   * step: gradients arriving from the device tile by tile, updated bf16 params leaving it. Calls
   * may come from several threads at once for different tiles, each tile's before precedes its
   * reads; a non-OK status stops the step and is returned by step(). A tile lies inside one group.
   * Only an optimizer that declares TANDEM_OPTIMIZER_CALLS_TILE_HOOKS calls them; for the others the
   * stage has every input ready before step() and takes the outputs after it returns. */
  void* hook_ctx;
  tandem_status (*before_tile)(void* ctx, size_t offset, size_t count, tandem_error* err);
  tandem_status (*after_tile)(void* ctx, size_t offset, size_t count, tandem_error* err);
} tandem_optimizer_step_args;

typedef struct tandem_optimizer_vtable {
  uint32_t struct_size;
  /* TANDEM_OPTIMIZER_* flags. Constant for the instance. */
  uint32_t (*capabilities)(const void* self);
  /* The hyper-parameters the config gave (lr, betas, eps, weight_decay), which the host uses for
   * every group that does not override them. */
  tandem_status (*defaults)(const void* self, tandem_optimizer_hparams* out, tandem_error* err);
  /* Allocates state (zeroed) for a shard of `numel` elements. Called once before the first step. */
  tandem_status (*init_state)(void* self, size_t numel, tandem_error* err);
  tandem_status (*step)(void* self, const tandem_optimizer_step_args* args, tandem_error* err);
  /* The state, for checkpoints: named fp32 buffers of `numel` elements (e.g. "exp_avg",
   * "exp_avg_sq"), valid until the instance is destroyed; the host reads them to save and writes
   * them to restore. */
  uint32_t (*state_buffer_count)(const void* self);
  tandem_status (*state_buffer)(void* self, uint32_t index, const char** name, tandem_tensor_view* view,
                                tandem_error* err);
  /* SDK 1.2. Where the shard and the state live, called before init_state by the stage that owns the
   * shard (without a call: host memory). On TANDEM_DEVICE_CUDA, step() takes device pointers and
   * queues its work on where->stream (returning before it is done), and the state buffers are
   * device views. An optimizer without RUNS_ON_DEVICE returns TANDEM_STATUS_UNSUPPORTED for it. */
  tandem_status (*place)(void* self, const tandem_placement* where, tandem_error* err);
} tandem_optimizer_vtable;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TANDEM_OPTIMIZER_H */
