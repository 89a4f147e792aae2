// What a DeepSpeed config means once every "auto" is resolved for one run: the typed values the
// runtime reads (ZeRO stage, offload devices, bucket sizes, precision and loss scaling, the batch
// triple, the optimizer and scheduler blocks), the full resolved JSON, and a record of how each
// "auto" was resolved and why (for `tandem config explain`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tandem/config_batch.hpp"
#include "tandem/config_error.hpp"
#include "tandem/json.hpp"

namespace tandem {

// Accelerate's --mixed_precision, which fills fp16.enabled / bf16.enabled when they are "auto".
enum class MixedPrecision { No, Fp16, Bf16 };
std::string_view mixed_precision_name(MixedPrecision mp);  // "no", "fp16", "bf16"
// Accepts "no", "fp16", "bf16" (case-insensitive); nullopt otherwise.
std::optional<MixedPrecision> parse_mixed_precision(std::string_view name);

// What the run knows that a config's "auto" values may come from. Everything is optional: an
// "auto" whose source is missing here either falls back to the documented default (the one
// Accelerate uses) or, where there is none, is reported as unresolvable before anything runs.
struct ResolveInputs {
  std::optional<int64_t> hidden_size;   // the model's hidden size (model.config.hidden_size)
  int64_t world_size = 1;               // data-parallel ranks
  std::optional<int64_t> micro_batch;   // the data's batch size per rank (Accelerate: the dataloader's)
  std::optional<int64_t> grad_accum;    // Accelerate's gradient_accumulation_steps (default 1)
  std::optional<double> lr;             // Accelerate's DummyOptim lr (default 0.001)
  std::optional<double> weight_decay;   // DummyOptim weight_decay (default 0)
  std::optional<int64_t> warmup_steps;  // DummyScheduler warmup_num_steps (default 0)
  std::optional<int64_t> total_steps;   // optimizer steps of the run (no default)
  std::optional<double> gradient_clipping;  // Accelerate's config_kwargs default 1.0
  MixedPrecision mixed_precision = MixedPrecision::No;
  // DeepSpeedPlugin fields that fill their config keys when those are "auto".
  std::optional<int64_t> zero_stage;                      // default 2
  std::optional<std::string> offload_optimizer_device;    // default "none"
  std::optional<std::string> offload_param_device;        // default "none"
  std::optional<std::string> offload_optimizer_nvme_path; // default none (null)
  std::optional<std::string> offload_param_nvme_path;     // default none (null)
  std::optional<bool> zero3_save_16bit_model;             // default false
};

// How one "auto" was resolved.
struct AutoResolution {
  std::string source;
  json::Position position;  // of the key that held "auto"
  std::string path;         // e.g. "zero_optimization.reduce_bucket_size"
  json::Value value;        // what replaced "auto"
  std::string why;          // e.g. "hidden_size^2 = 768*768, as Accelerate fills reduce_bucket_size"
};

// A value tandem added or derived that the config did not hold as "auto" (the batch keys DeepSpeed
// derives, the precision block Accelerate adds for --mixed_precision).
struct Derivation {
  std::string path;
  json::Value value;
  std::string why;
};

enum class OffloadDevice { None, Cpu, Nvme };
std::string_view offload_device_name(OffloadDevice d);  // "none", "cpu", "nvme"

struct OffloadParamConfig {  // zero_optimization.offload_param (ZeRO-3 only)
  OffloadDevice device = OffloadDevice::None;
  std::optional<std::string> nvme_path;
  int64_t buffer_count = 0;
  int64_t buffer_size = 0;
  int64_t max_in_cpu = 0;
  bool pin_memory = false;
};

struct OffloadOptimizerConfig {  // zero_optimization.offload_optimizer
  OffloadDevice device = OffloadDevice::None;
  std::optional<std::string> nvme_path;
  int64_t buffer_count = 0;
  bool pin_memory = false;
  bool pipeline_read = false;
  bool pipeline_write = false;
  bool fast_init = false;
  double ratio = 1.0;
  bool pipeline() const { return pipeline_read || pipeline_write; }  // as DeepSpeed derives it
};

// DeepSpeedZeroConfig. resolve() sets every field, from the config or DeepSpeed's default for a key
// the config leaves out (the schema's table is the one place those defaults are written).
struct ZeroConfig {
  int stage = 0;
  bool contiguous_gradients = true;
  bool reduce_scatter = true;
  int64_t reduce_bucket_size = 0;
  bool use_multi_rank_bucket_allreduce = true;
  bool allgather_partitions = true;
  int64_t allgather_bucket_size = 0;
  bool overlap_comm = false;  // DeepSpeed's default: true iff stage 3
  bool load_from_fp32_weights = true;
  std::optional<OffloadParamConfig> offload_param;          // absent or null: no block
  std::optional<OffloadOptimizerConfig> offload_optimizer;  // absent or null: no block
  int64_t sub_group_size = 0;
  int64_t prefetch_bucket_size = 0;         // stage3_prefetch_bucket_size
  int64_t param_persistence_threshold = 0;  // stage3_param_persistence_threshold
  int64_t model_persistence_threshold = 0;  // stage3_model_persistence_threshold
  int64_t max_live_parameters = 0;          // stage3_max_live_parameters
  int64_t max_reuse_distance = 0;           // stage3_max_reuse_distance
  bool gather_16bit_weights_on_model_save = false;
  int64_t module_granularity_threshold = 0;
  bool use_all_reduce_for_fetch_params = false;
  bool ignore_unused_parameters = true;
  bool round_robin_gradients = false;

  OffloadDevice optimizer_offload_device() const {
    return offload_optimizer ? offload_optimizer->device : OffloadDevice::None;
  }
  OffloadDevice param_offload_device() const { return offload_param ? offload_param->device : OffloadDevice::None; }
};

struct Fp16Config {
  bool enabled = false;
  bool auto_cast = false;
  double loss_scale = 0.0;  // 0 = dynamic
  int64_t initial_scale_power = 16;
  int64_t loss_scale_window = 1000;
  int64_t hysteresis = 2;
  bool consecutive_hysteresis = false;
  double min_loss_scale = 1.0;
  bool fp16_master_weights_and_grads = false;
};

struct Bf16Config {
  bool enabled = false;
  bool immediate_grad_update = false;
};

// The loss scaler as DeepSpeed sets it up from the fp16/bf16 blocks (get_loss_scale,
// get_initial_dynamic_scale, the dynamic-scaler arguments).
struct LossScaling {
  bool dynamic = false;          // fp16 with loss_scale 0
  double static_scale = 1.0;     // fp16 loss_scale when static; 1.0 for bf16 and fp32
  double initial_scale = 1.0;    // 2^initial_scale_power when dynamic
  int64_t window = 1000;         // loss_scale_window
  int64_t hysteresis = 2;        // delayed shift
  bool consecutive_hysteresis = false;
  double min_scale = 1.0;        // min_loss_scale
};

// The "optimizer" or "scheduler" block: the type as written and its params with their positions,
// for the registry to validate against the selected module's own schema.
struct ModuleBlock {
  std::string type;          // as written, e.g. "AdamW"
  json::Value params;        // the "params" object (an empty object when the config has none)
  json::Position position;   // where the block's key starts
  json::Position type_position;  // where its "type" value is (the block's position for a bare name)
  std::string path;          // "optimizer", "scheduler" or "tandem.stage_module"
};

struct ResolvedConfig {
  std::string source;
  BatchTriple batch;
  double gradient_clipping = 0.0;  // 0 = off
  ZeroConfig zero;
  Fp16Config fp16;
  Bf16Config bf16;
  LossScaling loss_scaling;
  MixedPrecision precision = MixedPrecision::No;  // what fp16/bf16 enable (Accelerate's state.mixed_precision)
  std::optional<ModuleBlock> optimizer;
  std::optional<ModuleBlock> scheduler;
  // tandem.stage_module (tandem's own block, ignored by DeepSpeed): the stage module that replaces
  // "zero" + zero.stage; none = that one. Written as a bare name, its params are an empty object.
  std::optional<ModuleBlock> stage_module;
  bool prescale_gradients = false;
  double gradient_predivide_factor = 1.0;
  std::optional<std::string> communication_data_type;  // "fp16", "bfp16", "fp32" or none
  std::optional<int64_t> steps_per_print;
  bool wall_clock_breakdown = false;
  bool zero_allow_untested_optimizer = false;
  bool zero_force_ds_cpu_optimizer = true;

  json::Value tree;  // the resolved config: "auto" replaced, the batch triple completed
  std::vector<AutoResolution> resolutions;  // one per "auto", in document order
  std::vector<Derivation> derived;          // values added or derived that were not "auto"
  std::vector<ConfigIssue> warnings;        // the config's warnings plus resolution's
};

}  // namespace tandem
