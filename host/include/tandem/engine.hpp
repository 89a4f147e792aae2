// Engine: one model under one ZeRO stage, over the ranks of this process (DeepSpeed's engine).
//
// The ranks are threads (the `local` communicator) or, with NCCL, this process's one rank; the
// engine hides them. A micro-step is forward, backward, step, as DeepSpeed's engine (and Accelerate,
// and llm.c) reads: forward() takes one micro-batch per rank and runs them at once; backward()
// computes each rank's loss and gradients and reduces them through the stage; step() then, on the
// accumulation boundary only, clips, steps the optimizer and then the schedule, and at every other
// micro-step only counts it (DeepSpeed's engine.step()):
//   - the loss is divided by gradient_accumulation_steps before backward;
//   - the optimizer steps when (micro_steps + 1) % gas == 0;
//   - clipping: c = (norm + 1e-6) / gradient_clipping; if c > 1 the gradients are divided by c;
//   - the scheduler steps after each optimizer step that was taken (never at construction);
//   - a non-finite gradient norm skips the step (gradients zeroed, scheduler not stepped) and is
//     counted in skipped_steps;
//   - mixed precision (the "bf16" / "fp16" blocks): the stage keeps fp32 master weights and gives the
//     model parameters and takes gradients in 16 bits (tandem/working_precision.hpp); under fp16 the
//     loss is scaled by the loss scaler's S (tandem/loss_scaler.hpp), the gradient norm and clipping
//     are computed unscaled (c = max(1, (norm/S + 1e-6) / clip), gradients times 1/(c*S)), and an
//     overflow skips the step and lowers S.
// Every backward() needs its step() before the next backward(), and every step() a backward()
// before it: either mistake is a std::invalid_argument saying which (a window's gradients would be
// added into the next one, or a step would apply nothing). backward() used to step as well (before
// step() existed, unreleased); code written for that gets the first error at its second backward(),
// never a silent change, and a compile error where it reads the report's step fields (backward()
// returns a BackwardReport).
// An engine made without an optimizer (a ZeRO-3 config with no "optimizer") is forward-only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tandem/config.hpp"
#include "tandem/json.hpp"
#include "tandem/loss_scaler.hpp"
#include "tandem/lr_scheduler.hpp"
#include "tandem/registry.hpp"
#include "tandem/stage.h"

namespace tandem {

// Where this process computes. cpu: world_size ranks as threads, the `local` communicator.
// cuda: one GPU, one rank per process, the `nccl` communicator; RANK, WORLD_SIZE and LOCAL_RANK
// (torchrun's variables; LOCAL_RANK picks the GPU) say which rank this is, MASTER_ADDR and
// MASTER_PORT where the ranks meet; without them, a world of one on GPU 0.
// stand_in: the GPU path on the CPU, for tests (thread-ranks and `local` as on the cpu, every module
// placed on a stand-in GPU whose memory is host memory: tandem/stand_in_memory.hpp). Only modules that
// compute on host memory when placed there can run on it (the test fixtures do; `gpt` and `adamw`
// would launch CUDA kernels), in fp32.
enum class RunDevice { cpu, cuda, stand_in };
const char* run_device_name(RunDevice device);  // "cpu", "cuda", "stand_in"

class RankPool;
namespace checkpoint {
struct SavedEngine;
}
namespace gpu {
class Device;
}

// A model module and its parameters, as a run file names them: {"type": "gpt", "params": {...}}.
struct ModelSpec {
  std::string type;
  json::Value params = json::Value::object();
  std::string source = "<model>";  // for messages: the run file
  uint64_t seed = 1234;            // initial weights are a pure function of it
};

// One rank's micro-batch: token ids and next-token targets, both [batch, seq] row-major.
struct TokenBatch {
  std::vector<int32_t> inputs;
  std::vector<int32_t> targets;
  int64_t batch = 0;
  int64_t seq = 0;
};

// One forward's logits: for each local rank a [batch, seq, vocab] buffer the engine owns, valid
// until that engine's next forward (and, on a GPU, overwritten by its gradient in backward). On the
// CPU, per_rank holds host fp32 logits; on a GPU, on_device holds device logits of `dtype` (the
// working precision: F32 or BF16) and per_rank is empty.
struct Logits {
  std::vector<const float*> per_rank;
  std::vector<const void*> on_device;
  uint32_t dtype = TANDEM_DTYPE_F32;
  int64_t batch = 0, seq = 0, vocab = 0;
  bool on_gpu() const { return !on_device.empty(); }
};

// The loss backward() differentiates: cross-entropy on the targets, plus, for distillation,
// alpha * T^2 * KL(teacher_T || student_T) with the teacher's logits of the same batches.
struct LossSpec {
  const std::vector<TokenBatch>* batches = nullptr;
  const Logits* teacher = nullptr;
  double alpha = 0.5;
  double temperature = 2.0;
};

// Seconds spent in one call by rank 0 (on a GPU: device time between events around each phase;
// forward includes nothing of the loss, backward includes the classifier's loss and gradient).
struct Timings {
  double forward = 0, backward = 0, communication = 0, optimizer = 0;
};

// What backward() measured: the micro-step's loss. Its gradients are in the stage, applied by step().
struct BackwardReport {
  double loss = 0;        // mean over ranks and tokens of this micro-step's total loss
  double ce_loss = 0;     // its cross-entropy part
  double kd_loss = 0;     // its distillation part (0 without a teacher)
  bool boundary = false;  // this micro-step ends an accumulation window: step() steps the optimizer
  double loss_scale = 1.0;  // the loss scale the gradients were computed with
};

// What step() did, with the loss of the backward() before it: one micro-step's whole report.
struct StepReport {
  double loss = 0;        // mean over ranks and tokens of this micro-step's total loss
  double ce_loss = 0;     // its cross-entropy part
  double kd_loss = 0;     // its distillation part (0 without a teacher)
  bool boundary = false;  // this micro-step ended an accumulation window
  bool stepped = false;   // ... and the optimizer stepped (false if skipped)
  bool nonfinite = false; // ... and the gradients held inf or NaN, so the step was skipped
  // fp16's dynamic loss scaler saw that overflow and lowered the scale: an expected skip, not a fault
  // (DeepSpeed skips such steps as part of loss scaling).
  bool scaler_overflow = false;
  double loss_scale = 1.0;  // the loss scale this micro-step's gradients were computed with
  double grad_norm = 0;   // at a boundary: the global L2 norm before clipping (unscaled)
  double lr = 0;          // group 0's lr of the step taken
  int64_t global_steps = 0;
  Timings time;
};

class Engine {
 public:
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const std::string& name() const { return name_; }
  const ResolvedConfig& config() const { return config_; }
  // Ranks of the run, and those this process plays (forward takes one micro-batch for each).
  int32_t world_size() const;
  int32_t local_ranks() const { return static_cast<int32_t>(ranks_.size()); }
  int32_t first_rank() const;  // the global rank of this process's first rank
  bool on_gpu() const { return gpu_ != nullptr; }
  bool trains() const { return has_optimizer_; }
  // The optimizer module the config's "optimizer" selected ("adamw"; "cpu_adamw" under ZeRO-Offload;
  // a third party's), "" for a forward-only engine.
  std::string optimizer_module() const;
  int64_t vocab_size() const { return vocab_; }
  int64_t max_sequence() const { return max_sequence_; }
  int64_t hidden_size() const { return hidden_; }
  int64_t global_steps() const { return global_steps_; }
  int64_t skipped_steps() const { return skipped_steps_; }
  int64_t micro_steps() const { return micro_steps_; }
  // Forwards run so far: a forward's Logits are current while this is unchanged.
  uint64_t forward_count() const { return forwards_; }
  int64_t parameter_count() const;

  // One micro-batch per local rank. train keeps activations for backward (a trained engine only).
  Logits forward(const std::vector<TokenBatch>& batches, bool train = true);
  // Inference through the model's KV cache (SDK 1.4's forward_cached), on an engine of one local rank
  // on the CPU: the logits of positions past .. past + batch.seq - 1 of batch.batch rows, the model
  // keeping the earlier positions' keys and values (past == 0 starts new rows; batch.targets unused).
  // nullopt, with nothing changed, where the model keeps no cache (a module built against an SDK older
  // than 1.4, one that leaves the entry NULL, or one that answers UNSUPPORTED where it runs): forward()
  // over the whole sequence gives the same logits. Engines of several ranks or on a GPU: nullopt.
  std::optional<Logits> forward_cached(const TokenBatch& batch, int64_t past);
  // Differentiates the loss of the last training forward; the gradients wait for step(). Throws
  // std::invalid_argument when the last backward() has not had its step() yet.
  BackwardReport backward(const LossSpec& loss);
  // Ends the micro-step of the last backward(): on the accumulation boundary clips, steps the
  // optimizer and the schedule; elsewhere only counts the micro-step, as DeepSpeed's engine.step().
  // Throws std::invalid_argument without a backward() since the last step().
  // `during_step`, when given, is work for the device while the optimizer steps (a distiller queues
  // the next teacher forward here): called once from this thread, after the gradients and their norm
  // are final and before the optimizer steps (at once on a micro-step that does not step). On a GPU
  // it is queued on the same stream before the step and does not delay the step's copies, so an
  // optimizer offloaded to the host runs while the GPU does it. It must not use this engine (it may
  // use another: the teacher) and must leave alone the memory the step uses.
  StepReport step(const std::function<void()>& during_step = {});
  // Mean cross-entropy over the batches (forward only; no state changes). Throws std::invalid_argument
  // for no batches.
  double evaluate(const std::vector<std::vector<TokenBatch>>& batches);
  // Local rank r's logits of a forward as host fp32 [batch, seq, vocab]: a copy on the CPU, a copy
  // from the GPU (widened from bf16) on a GPU. Waits for the forward to finish.
  std::vector<float> host_logits(const Logits& logits, size_t r) const;

  // Full values of the parameters (fp32), by Hugging Face name, in the model's order.
  std::vector<std::pair<std::string, std::vector<float>>> parameters() const;
  std::vector<int64_t> parameter_shape(size_t index) const;
  // Replaces every parameter from full values (a checkpoint's weights); names and shapes must match.
  void set_parameters(const std::vector<std::pair<std::string, std::vector<float>>>& values);

  // Model state bytes held by each local rank.
  std::vector<tandem_stage_memory> memory() const;

  // Checkpoints: weights (model.safetensors, Hugging Face names), each rank's optimizer state and
  // master shards, the scheduler and the step counters, written into `dir` (which must exist and be
  // empty); load() restores them exactly. The caller makes the directory atomic (write to a
  // temporary name, rename). load() takes a checkpoint of any ZeRO stage and world size: the master
  // weights and every optimizer state are gathered from the saved ranks and cut by this engine's
  // layout, bit for bit (docs/checkpoints.md); offloaded and on-device optimizer state are the same.
  void save(const std::filesystem::path& dir) const;
  void load(const std::filesystem::path& dir, bool with_optimizer = true);
  // Replaces the weights from one safetensors file: a model.safetensors of tandem's, or a Hugging
  // Face GPT-2 checkpoint (names with or without "transformer.", Conv1D weights [in, out]). A
  // missing tensor or a shape that differs is an error naming the tensor.
  void load_weights(const std::filesystem::path& file);

  LrScheduler* scheduler() { return scheduler_; }
  const LossScaler& loss_scaler() const { return scaler_; }

 private:
  friend class Accelerator;
  struct Rank;
  Engine();
  // Creates each rank's stage and optimizer for `models` (one instance per local rank) and sets the
  // initial weights from `seed`.
  void build(const ModuleRegistry& registry, std::vector<std::shared_ptr<ModuleInstance>> models, uint64_t seed,
             LrScheduler* scheduler, std::shared_ptr<RankPool> pool, std::shared_ptr<ModuleInstance> comm,
             std::shared_ptr<gpu::Device> gpu);
  void take_step(StepReport& report, const std::function<void()>& during_step);
  // load()'s optimizer state: each rank's own file (same stage and world size), or every state
  // gathered across the saved ranks and re-cut for this layout (engine_reshard.cpp).
  void load_own_shards(const std::filesystem::path& dir);
  void load_resharded(const checkpoint::SavedEngine& saved);
  // fn(local_rank) on every rank at once, each rank's thread bound to the GPU first (GPU runs).
  void on_ranks(const std::function<void(int32_t)>& fn) const;
  void backward_on_cpu(Rank& rank, const TokenBatch& batch, const LossSpec& loss, size_t r);
  void backward_on_gpu(Rank& rank, const TokenBatch& batch, const LossSpec& loss, size_t r);

  std::string name_;
  ResolvedConfig config_;
  bool has_optimizer_ = false;
  int64_t vocab_ = 0, max_sequence_ = 0, hidden_ = 0;
  int64_t global_steps_ = 0, skipped_steps_ = 0, micro_steps_ = 0, taken_steps_ = 0;
  uint64_t forwards_ = 0;
  bool last_forward_trained_ = false;
  // The last backward()'s report until its step(): set by backward, taken by step.
  std::optional<BackwardReport> awaiting_step_;
  int64_t last_batch_ = 0, last_seq_ = 0;
  std::vector<std::unique_ptr<Rank>> ranks_;
  std::vector<tandem_model_param> params_;   // from rank 0's model; names owned by that instance
  std::vector<uint32_t> param_groups_;       // 0: weight decay, 1: no weight decay
  std::vector<tandem_optimizer_hparams> group_defaults_;
  LrScheduler* scheduler_ = nullptr;
  LossScaler scaler_;
  // Shared with the process's State, so that an engine outlives a State::reset().
  std::shared_ptr<RankPool> pool_;
  std::shared_ptr<ModuleInstance> comm_;
  std::shared_ptr<gpu::Device> gpu_;  // GPU runs: the process's GPU and stream (shared with State)
  uint32_t working_dtype_ = TANDEM_DTYPE_F32;
};

}  // namespace tandem
