/*
 * The model kind's function table (tandem ABI 1.0; 1.2 appended place(), 1.4 forward_cached()).
 *
 * A model computes; it does not own its parameters. It declares them (name, true shape, layer), and
 * during forward and backward it asks the host for each layer's parameters just before it uses
 * them and hands them back after, through tandem_param_access. That is where a ZeRO-3 stage gathers
 * a layer's shards and releases them, and where a ZeRO-2 stage starts reducing a layer's gradients
 * as soon as backward is done with it (DeepSpeed does the same with module hooks).
 *
 * Forward returns logits; the loss (cross-entropy, distillation KL) and its gradient w.r.t. the
 * logits are computed by the host, and backward takes that gradient. One instance is one rank's
 * replica: it keeps the activations of its last training forward for backward.
 *
 * Thread safety: an instance is used by one thread at a time.
 */
#ifndef TANDEM_MODEL_H
#define TANDEM_MODEL_H

#include "tandem/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  TANDEM_MODEL_PARAM_NO_WEIGHT_DECAY = 1u << 0 /* biases, norms: the conventional no-decay group */
};

typedef struct tandem_model_param {
  uint32_t struct_size;
  const char* name; /* Hugging Face's name, e.g. "transformer.h.0.attn.c_attn.weight" */
  uint32_t ndim;
  int64_t shape[TANDEM_MAX_DIMS];
  int32_t layer;    /* the first layer that uses it, in forward order */
  uint32_t flags;   /* TANDEM_MODEL_PARAM_* */
} tandem_model_param;

/*
 * Host callbacks the model calls during forward and backward. Layers are numbered 0..layer_count-1 in
 * forward order. A parameter shared by two layers (a tied embedding) is listed with the first; the
 * model acquires that layer before the second use and releases it after.
 *
 *   acquire(layer, params): fills params[i] with views of the layer's parameters, in the order of the
 *       model's parameter list; valid until release(layer).
 *   acquire_grads(layer, grads): views of the layer's gradient buffers (backward only), into which
 *       the model ADDS (+=) its gradients; valid until grads_done(layer).
 *   grads_done(layer): the model will not touch this layer's gradients again in this backward.
 */
typedef struct tandem_param_access {
  uint32_t struct_size;
  void* ctx;
  tandem_status (*acquire)(void* ctx, int32_t layer, tandem_tensor_view* params, tandem_error* err);
  tandem_status (*release)(void* ctx, int32_t layer, tandem_error* err);
  tandem_status (*acquire_grads)(void* ctx, int32_t layer, tandem_tensor_view* grads, tandem_error* err);
  tandem_status (*grads_done)(void* ctx, int32_t layer, tandem_error* err);
} tandem_param_access;

typedef struct tandem_model_vtable {
  uint32_t struct_size;
  uint32_t (*param_count)(const void* self);
  tandem_status (*param_info)(const void* self, uint32_t index, tandem_model_param* out, tandem_error* err);
  int32_t (*layer_count)(const void* self);
  /* The width Accelerate calls hidden_size (reduce_bucket_size = h*h, ...). */
  int64_t (*hidden_size)(const void* self);
  /* Vocabulary size and longest sequence, to check data against. */
  int64_t (*vocab_size)(const void* self);
  int64_t (*max_sequence)(const void* self);
  /* Writes parameter `index`'s initial values (fp32, its true shape) from `seed`: the same seed
   * gives the same values on every machine. */
  tandem_status (*init_param)(const void* self, uint32_t index, uint64_t seed, tandem_tensor_view* out,
                              tandem_error* err);
  /* tokens: I32 [B, T]. logits: out, a model-owned F32 view [B, T, vocab], valid until the next forward
   * or the instance's destruction. train != 0 keeps activations for backward. */
  tandem_status (*forward)(void* self, const tandem_tensor_view* tokens, const tandem_param_access* access,
                           int32_t train, tandem_tensor_view* logits, tandem_error* err);
  /* dlogits: F32 [B, T, vocab], the loss's gradient w.r.t. the last training forward's logits. */
  tandem_status (*backward)(void* self, const tandem_tensor_view* dlogits, const tandem_param_access* access,
                            tandem_error* err);
  /* SDK 1.2. Where the instance computes, called once before the first forward (without a call: the
   * CPU, fp32). dtype is the working precision of the parameter views the access hands out
   * (TANDEM_DTYPE_F32, _BF16 or _F16, as stored on that device: tandem/memory.h). On a GPU the
   * parameter and gradient views are device memory, tokens stay a host I32 view (the model uploads
   * them), logits come back as a device view of the working dtype, valid until the next forward, and
   * dlogits is a device view of the same dtype (it may be the logits buffer itself); every kernel is
   * queued on where->stream, and forward and backward return with the work queued, not finished.
   * A placement the model cannot take returns TANDEM_STATUS_UNSUPPORTED saying why. */
  tandem_status (*place)(void* self, const tandem_placement* where, uint32_t dtype, tandem_error* err);
  /* SDK 1.4, optional: inference over new positions only, with each layer's keys and values of the
   * earlier positions kept in the instance (a KV cache), for generating one token at a time.
   * tokens: I32 [B, T_new], positions past .. past + T_new - 1 of each of B rows. past == 0 starts B new
   * rows (the cache is dropped and sized for B); otherwise past must equal the positions cached so far
   * and B the rows cached (else TANDEM_STATUS_INVALID_ARGUMENT), and past + T_new <= max_sequence.
   * logits: out, a model-owned F32 view [B, T_new, vocab] of the new positions, valid until the next
   * forward or forward_cached. No activations are kept for backward; a forward() in between leaves the
   * cache as it was. The parameter access is used as in forward(). A module built against an older minor
   * has no such entry (struct_size), and one may set it to NULL or return TANDEM_STATUS_UNSUPPORTED (where
   * it cannot cache, e.g. on a device it does not cache on): the host then runs forward() over the whole
   * sequence instead. The cache lives until the instance is destroyed or the next past == 0. */
  tandem_status (*forward_cached)(void* self, const tandem_tensor_view* tokens, int64_t past,
                                  const tandem_param_access* access, tandem_tensor_view* logits, tandem_error* err);
} tandem_model_vtable;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TANDEM_MODEL_H */
