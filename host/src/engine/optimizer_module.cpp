#include "engine/optimizer_module.hpp"

#include <array>

#include "tandem/config_error.hpp"
#include "tandem/registry.hpp"

namespace tandem {

namespace {

// One row per name in DeepSpeed's DEEPSPEED_OPTIMIZERS (deepspeed/runtime/config.py), in its order.
struct DeepSpeedOptimizer {
  std::string_view type;     // lower-cased, as DeepSpeed compares it
  std::string_view module;   // the tandem module that implements it; empty: refused
  std::string_view refusal;  // for a refused type: what it is, for the message
  // What DeepSpeed builds for it is in ZERO_SUPPORTED_OPTIMIZERS (torch Adam/AdamW/Adagrad, FusedAdam,
  // DeepSpeedCPUAdam, DeepSpeedCPUAdagrad, DeepSpeedCPULion, FusedLion): no flag needed under ZeRO.
  bool zero_tested;
};

// _configure_basic_optimizer (deepspeed/runtime/engine.py) builds, per type: adagrad -> torch Adagrad
// or DeepSpeedCPUAdagrad; adam/adamw -> FusedAdam, DeepSpeedCPUAdam or torch Adam/AdamW; lamb ->
// FusedLamb (not in the tested list); lion -> FusedLion or DeepSpeedCPULion; the 1-bit family asserts
// "not compatible with ZeRO"; the mu* ones come from the mup package; muon -> MuonWithAuxAdam.
constexpr std::array<DeepSpeedOptimizer, 12> kDeepSpeedOptimizers{{
    {"adagrad", "", "Adagrad (torch.optim.Adagrad / DeepSpeedCPUAdagrad)", true},
    {"adam", "adamw", "", true},  // adam_w_mode (default true) decides; the adamw module does both
    {"adamw", "adamw", "", true},
    {"lamb", "lamb", "", false},
    {"onebitadam", "", "1-bit Adam: error-compensated 1-bit gradient communication, not compatible with ZeRO", false},
    {"onebitlamb", "", "1-bit LAMB: error-compensated 1-bit gradient communication, not compatible with ZeRO", false},
    {"zerooneadam", "", "0/1 Adam: 1-bit communication with variance freezing, not compatible with ZeRO", false},
    {"muadam", "", "MuAdam from the mup package: muP width-scaled learning rates (needs mup's infshapes)", false},
    {"muadamw", "", "MuAdamW from the mup package: muP width-scaled learning rates (needs mup's infshapes)", false},
    {"musgd", "", "MuSGD from the mup package: muP width-scaled learning rates (needs mup's infshapes)", false},
    {"lion", "fused_lion", "", true},
    {"muon", "", "Muon with auxiliary Adam (needs whole matrices and each parameter's use_muon flag)", false},
}};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

const DeepSpeedOptimizer* find_type(std::string_view config_type) {
  const std::string key = lower(config_type);
  for (const DeepSpeedOptimizer& row : kDeepSpeedOptimizers)
    if (row.type == key) return &row;
  return nullptr;
}

}  // namespace

std::string implemented_optimizer_types() {
  std::string out;
  for (const DeepSpeedOptimizer& row : kDeepSpeedOptimizers)
    if (!row.module.empty()) out += (out.empty() ? "" : ", ") + std::string(row.type);
  return out;
}

std::string optimizer_module_name(std::string_view config_type, const ModuleRegistry& registry,
                                  const std::string& source, json::Position type_position,
                                  const std::string& type_path) {
  const DeepSpeedOptimizer* row = find_type(config_type);
  // A module named as the type itself (a third-party one) is preferred, for a DeepSpeed type too.
  if (registry.find(ModuleKind::Optimizer, config_type) != nullptr) return canonical_module_name(config_type);
  if (row == nullptr) return canonical_module_name(config_type);
  if (row->module.empty())
    throw ConfigError(source, type_position, type_path,
                      "optimizer.type \"" + std::string(config_type) +
                          "\" is a DeepSpeed optimizer tandem does not implement (" + std::string(row->refusal) +
                          "); available: " + implemented_optimizer_types() +
                          " (DeepSpeed's names), or an optimizer module by its name");
  return std::string(row->module);
}

std::string check_untested_zero_optimizer(std::string_view config_type, int zero_stage, bool allow_untested,
                                          const std::string& source, json::Position type_position,
                                          const std::string& type_path) {
  if (zero_stage < 1) return "";
  const DeepSpeedOptimizer* row = find_type(config_type);
  // DeepSpeed's rule covers the optimizers it builds. An optimizer module by its own name is tandem's
  // extension (DeepSpeed would take the name for a torch optimizer): the optimizer conformance suite
  // runs it under every stage, so it needs no flag (docs/configs.md lists this difference).
  if (row == nullptr || row->zero_tested) return "";
  if (!allow_untested) {
    std::string tested;
    for (const DeepSpeedOptimizer& r : kDeepSpeedOptimizers)
      if (r.zero_tested) tested += (tested.empty() ? "" : ", ") + std::string(r.type);
    throw ConfigError(source, type_position, type_path,
                      "optimizer.type \"" + std::string(config_type) + "\" under ZeRO stage " +
                          std::to_string(zero_stage) + " is an optimizer DeepSpeed has not tested with ZeRO (tested: " +
                          tested + "); DeepSpeed refuses it (\"You are using an untested ZeRO Optimizer\") unless "
                          "the config sets \"zero_allow_untested_optimizer\": true at the top level: add it to run "
                          "it as DeepSpeed would, or use a tested optimizer or ZeRO stage 0");
  }
  return "optimizer.type \"" + std::string(config_type) + "\": you are using ZeRO with an untested optimizer "
         "(zero_allow_untested_optimizer is true), proceed with caution";
}

}  // namespace tandem
