// The cross-key rules, each as DeepSpeed enforces it (deepspeed/runtime/config.py,
// runtime/zero/config.py, runtime/engine.py, runtime/zero/stage_1_and_2.py), with tandem's messages.
#include "checks.hpp"

#include <optional>
#include <string>

#include "tree_access.hpp"

namespace tandem::config_detail {

namespace {

void check_precision(const json::Value& tree, Findings& f) {
  const json::Value* fp16 = find_path(tree, "fp16.enabled");
  const json::Value* bf16 = find_path(tree, "bf16.enabled");
  const bool fp16_on = concrete_bool(fp16).value_or(false);
  const bool bf16_on = concrete_bool(bf16).value_or(false);
  if (fp16_on && bf16_on)
    f.error(*bf16, "bf16 and fp16 cannot both be enabled (fp16.enabled is true at " + line_col(fp16->position()) +
                       "), as DeepSpeed asserts");
  const json::Value* amp = find_path(tree, "amp.enabled");
  if (concrete_bool(amp).value_or(false) && (fp16_on || bf16_on))
    f.error(*amp, std::string("Apex AMP cannot be enabled together with ") + (fp16_on ? "fp16" : "bf16") +
                      ", as DeepSpeed asserts");
}

void check_stage_dependent(const json::Value& tree, Findings& f) {
  const std::optional<int64_t> stage = stated_zero_stage(tree);
  if (!stage) return;  // "auto": checked again once resolved
  const std::string stage_text = "ZeRO stage is " + std::to_string(*stage);

  const json::Value* master = find_path(tree, "fp16.fp16_master_weights_and_grads");
  if (concrete_bool(master).value_or(false) && concrete_bool(find_path(tree, "fp16.enabled")).value_or(false)) {
    if (*stage != 2)
      f.error(*master, "fp16_master_weights_and_grads works only with ZeRO stage 2 (" + stage_text +
                           "), as DeepSpeed asserts");
    else  // DeepSpeed's own choice at stage 2; tandem's stages have no fp16 master weights
      f.error(*master, "not supported: tandem keeps fp32 master weights under every stage "
                       "(docs/mixed-precision.md); remove the key or set it to false");
  }

  const json::Value* ratio = find_path(tree, "zero_optimization.offload_optimizer.ratio");
  if (const auto r = concrete_number(ratio); r && *r < 1.0 && *stage != 3)
    f.error(*ratio, "partial optimizer offload (ratio < 1) works only with ZeRO stage 3 (" + stage_text +
                        "), as DeepSpeed asserts");

  const json::Value* param_device = find_path(tree, "zero_optimization.offload_param.device");
  if (const auto d = concrete_string(param_device); d && *d != "none" && *stage != 3)
    f.warn(*param_device, "offload_param takes effect only with ZeRO stage 3 (" + stage_text +
                              "): DeepSpeed ignores it");

  const json::Value* optimizer_device = find_path(tree, "zero_optimization.offload_optimizer.device");
  if (const auto d = concrete_string(optimizer_device); d && *d != "none" && *stage == 0)
    f.warn(*optimizer_device, "offload_optimizer takes effect only with ZeRO stages 1 to 3 (" + stage_text +
                                  "): DeepSpeed ignores it");

  // stage_1_and_2.py asserts the all-gather bucket is a multiple of nccl_start_alignment_factor (2).
  const json::Value* allgather = find_path(tree, "zero_optimization.allgather_bucket_size");
  if (const auto n = concrete_int(allgather); n && *n % 2 != 0 && (*stage == 1 || *stage == 2))
    f.error(*allgather, "must be a multiple of 2 (DeepSpeed's nccl_start_alignment_factor) with ZeRO stage " +
                            std::to_string(*stage) + ", got " + std::to_string(*n));
}

void check_offload_paths(const json::Value& tree, Findings& f) {
  for (const char* block : {"zero_optimization.offload_param", "zero_optimization.offload_optimizer"}) {
    const json::Value* offload = find_path(tree, block);
    if (offload == nullptr || !offload->is_object()) continue;
    const json::Value* device = offload->find("device");
    const json::Value* path = offload->find("nvme_path");
    if (concrete_string(device) == "nvme" && (path == nullptr || path->is_null()))
      f.error(*device, "device \"nvme\" needs \"nvme_path\" in the same block (the directory on the NVMe device)");
  }
}

// DeepSpeed's engine refuses max_grad_norm as an optimizer parameter (_configure_basic_optimizer).
void check_optimizer_params(const json::Value& tree, Findings& f) {
  if (const json::Value* max_grad_norm = find_path(tree, "optimizer.params.max_grad_norm"))
    f.error(*max_grad_norm, "\"max_grad_norm\" is not an optimizer parameter in DeepSpeed: clip gradients with the "
                            "top-level \"gradient_clipping\" instead");
}

// DeepSpeed features tandem accepts (so that real configs load) but does not implement: each one a
// config turns on is named, so that nothing DeepSpeed would act on is dropped silently. A block whose
// "enabled" defaults to false in DeepSpeed is on only with "enabled": true; the others are on when
// they hold anything (activation_checkpointing has no switch: its keys configure the API a model
// calls), unless they say "enabled": false.
struct IgnoredFeature {
  const char* key;
  bool off_by_default;  // DeepSpeed's "enabled" default is false
  const char* instead;  // what tandem offers, or what happens instead
};
constexpr IgnoredFeature kIgnoredFeatures[] = {
    {"wandb", true, "nothing is sent; the run file's \"metrics\" (JSON lines) has every step"},
    {"comet", true, "nothing is sent; the run file's \"metrics\" (JSON lines) has every step"},
    {"flops_profiler", true, "no profile is printed; the metrics' time_s and tokens_per_s give the step's phases"},
    {"comms_logger", true, "communication is not logged"},
    {"activation_checkpointing", false, "every activation is kept, so memory is as without checkpointing"},
    {"aio", false, "it configures NVMe swapping, which tandem does not do"},
    {"autotuning", true, "the config is used as written"},
    {"compile", true, "nothing is compiled"},
    {"compression_training", false, "the model trains uncompressed"},
    {"curriculum_learning", true, "the data comes in its own order"},
    {"data_efficiency", true, "the data comes in its own order"},
    {"eigenvalue", true, "no eigenvalues are computed"},
    {"elasticity", true, "the batch is as configured"},
    {"hybrid_engine", true, "no inference engine is made"},
    {"nebula", true, "checkpoints are tandem's own"},
    {"pipeline", false, "there is no pipeline parallelism"},
    {"progressive_layer_drop", true, "every layer runs"},
    {"quantize_training", true, "the model trains unquantized"},
    {"sparse_attention", false, "attention is dense"},
    {"tensor_parallel", false, "there is no tensor parallelism"},
    {"torch_autocast", true, "precision follows the bf16 and fp16 blocks"},
    {"weight_quantization", false, "weights are not quantized"},
};

void check_ignored_features(const json::Value& tree, Findings& f) {
  for (const IgnoredFeature& feature : kIgnoredFeatures) {
    const json::Value* block = tree.is_object() ? tree.find(feature.key) : nullptr;
    if (block == nullptr || !block->is_object() || block->members().empty()) continue;
    const std::optional<bool> enabled = concrete_bool(block->find("enabled"));
    if (enabled == false || (feature.off_by_default && enabled != true)) continue;
    f.warn(*block, std::string("DeepSpeed acts on \"") + feature.key + "\", tandem does not: it is ignored (" +
                       feature.instead + ")");
  }
  if (const json::Value* d = find_path(tree, "zero_optimization.offload_optimizer.device"); concrete_string(d) == "nvme")
    f.warn(*d, "\"nvme\": tandem keeps the offloaded optimizer state in pinned host memory, as \"cpu\" does; nothing "
               "is written to nvme_path");
  // (Under another stage check_stage_dependent says that DeepSpeed itself ignores it.)
  const json::Value* param = find_path(tree, "zero_optimization.offload_param.device");
  if (const auto d = concrete_string(param); d && *d != "none" && stated_zero_stage(tree) == 3)
    f.warn(*param, "\"" + *d + "\": tandem does not offload ZeRO-3's parameters; each rank's shard stays where the "
                   "model runs (host memory on a CPU run, the GPU's on a GPU)");
}

}  // namespace

void check_cross_key_rules(const json::Value& tree, Findings& findings) {
  check_ignored_features(tree, findings);
  check_precision(tree, findings);
  check_stage_dependent(tree, findings);
  check_offload_paths(tree, findings);
  check_optimizer_params(tree, findings);
}

}  // namespace tandem::config_detail
