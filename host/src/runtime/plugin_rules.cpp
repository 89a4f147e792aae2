// Accelerate's DeepSpeedPlugin and prepare() rules on a config (plugin_rules.hpp).
#include "runtime/plugin_rules.hpp"

namespace tandem::plugin_rules {

namespace {

constexpr const char* kGas = "gradient_accumulation_steps";

// `out` with every "auto" of `plugin` (the same shape) replaced by the value at the same place in
// `resolved`; `only` limits the replacement to one top-level key when not empty.
void fill_autos(json::Value& out, const json::Value& resolved, std::string_view only, int depth = 0) {
  if (out.is_object()) {
    for (auto& [name, member] : out.members()) {
      if (depth == 0 && !only.empty() && name != only) continue;
      if (const json::Value* r = resolved.find(name)) {
        if (member.is_auto()) {
          json::Position at = member.position();
          member = *r;
          member.set_position(at);
        } else {
          fill_autos(member, *r, only, depth + 1);
        }
      }
    }
  } else if (out.is_array() && resolved.is_array() && out.items().size() == resolved.items().size()) {
    for (size_t i = 0; i < out.items().size(); ++i) {
      json::Value& item = out.items()[i];
      if (item.is_auto())
        item = resolved.items()[i];
      else
        fill_autos(item, resolved.items()[i], only, depth + 1);
    }
  }
}

json::Value client_block(const ClientModuleSpec& spec) {
  json::Value block = json::Value::object();
  block.set("type", json::Value::string(spec.type));
  block.set("params", spec.params.is_null() ? json::Value::object() : spec.params);
  return block;
}

void refuse_both(const DeepSpeedConfig& config, const char* key, const char* what) {
  const json::Value* block = config.tree().find(key);
  throw ConfigError(config.source(), block->position(), key,
                    std::string("the config has ") + what + " and prepare() was given one in code too; remove the \"" +
                        key + "\" block from the config or give none in code (Accelerate refuses the same: \"You "
                        "cannot specify " + what + " in the config file and in the code at the same time\")");
}

}  // namespace

std::optional<ConfigIssue> refusal(const DeepSpeedConfig& config) {
  const json::Value* zero = config.tree().find("zero_optimization");
  if (zero != nullptr && !zero->is_null()) return std::nullopt;
  return ConfigIssue{config.source(), zero != nullptr ? zero->position() : json::Position{}, "zero_optimization",
                     "a DeepSpeed plugin needs a zero_optimization block (Accelerate's DeepSpeedPlugin refuses a "
                     "config without one: \"Please specify the ZeRO optimization config in the DeepSpeed config.\"); "
                     "add \"zero_optimization\": {\"stage\": 0} for plain data parallelism, or the stage you want"};
}

DeepSpeedConfig adopt(DeepSpeedConfig config) {
  if (std::optional<ConfigIssue> why = refusal(config)) throw ConfigError({*why});
  if (config.tree().find(kGas) == nullptr) return config.with(kGas, json::Value::integer(1));
  return config;
}

DeepSpeedConfig with_client_modules(const DeepSpeedConfig& plugin_config, const PrepareInputs& inputs) {
  DeepSpeedConfig out = plugin_config;
  if (inputs.optimizer) {
    if (plugin_config.optimizer() != nullptr) refuse_both(plugin_config, "optimizer", "an optimizer");
    json::Value block = client_block(*inputs.optimizer);
    // A client optimizer stands for a torch object: torch.optim.Adam couples the decay into the
    // gradient (Accelerate maps it to DeepSpeedCPUAdam(adamw_mode=False)), unlike the config's "Adam",
    // whose adam_w_mode defaults to true.
    if (canonical_module_name(inputs.optimizer->type) == "adam" && block.find("params")->find("adam_w_mode") == nullptr)
      block.find("params")->set("adam_w_mode", json::Value::boolean(false));
    out = out.with("optimizer", std::move(block));
    // Accelerate sets this for a torch optimizer: DeepSpeed then runs it under ZeRO with a warning.
    out = out.with("zero_allow_untested_optimizer", json::Value::boolean(true));
  }
  if (inputs.scheduler) {
    if (plugin_config.scheduler() != nullptr) refuse_both(plugin_config, "scheduler", "a scheduler");
    out = out.with("scheduler", client_block(*inputs.scheduler));
  }
  return out;
}

std::optional<ConfigIssue> gradient_accumulation_mismatch(const DeepSpeedConfig& plugin_config,
                                                          std::optional<int64_t> accelerator_steps) {
  const json::Value* gas = plugin_config.tree().find(kGas);
  if (!accelerator_steps || gas == nullptr || !gas->is_integral() || gas->as_int() == *accelerator_steps)
    return std::nullopt;
  const std::string value = std::to_string(gas->as_int());
  return ConfigIssue{plugin_config.source(), gas->position(), kGas,
                     "the Accelerator was given gradient_accumulation_steps " + std::to_string(*accelerator_steps) +
                         " and the config " + (gas->position().known() ? "has " : "has none, so the plugin's default ") +
                         value + ": using the config's " + value +
                         " (Accelerate warns \"Gradient accumulation steps mismatch\" and uses DeepSpeed's value)"};
}

DeepSpeedConfig filled(const DeepSpeedConfig& plugin_config, const ResolvedConfig& resolved, bool with_model,
                       bool client_optimizer) {
  json::Value tree = plugin_config.tree();
  fill_autos(tree, resolved.tree, with_model ? "" : kGas);
  // Accelerate's set_mixed_precision adds the requested precision's block to the plugin's config.
  DeepSpeedConfig out(json::Document{plugin_config.source(), std::move(tree)});
  for (const Derivation& d : resolved.derived)
    if ((d.path == "bf16" || d.path == "fp16") && out.tree().find(d.path) == nullptr) out = out.with(d.path, d.value);
  if (client_optimizer) out = out.with("zero_allow_untested_optimizer", json::Value::boolean(true));
  return out;
}

}  // namespace tandem::plugin_rules
