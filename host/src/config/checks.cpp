// The cross-key rules, each as DeepSpeed enforces it (deepspeed/runtime/config.py,
// runtime/zero/config.py, runtime/engine.py, runtime/zero/stage_1_and_2.py), with tandem's messages.
#include "checks.hpp"

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
  if (concrete_bool(master).value_or(false) && concrete_bool(find_path(tree, "fp16.enabled")).value_or(false) &&
      *stage != 2)
    f.error(*master, "fp16_master_weights_and_grads works only with ZeRO stage 2 (" + stage_text +
                         "), as DeepSpeed asserts");

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

}  // namespace

void check_cross_key_rules(const json::Value& tree, Findings& findings) {
  check_precision(tree, findings);
  check_stage_dependent(tree, findings);
  check_offload_paths(tree, findings);
  check_optimizer_params(tree, findings);
}

}  // namespace tandem::config_detail
