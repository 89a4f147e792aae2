// Accelerator: shares or creates the process's State, and prepare() binds a plugin's config, resolved,
// to what it prepares.
#include "tandem/accelerator.hpp"

#include <algorithm>

namespace tandem {

namespace {

// DeepSpeed's default Adam lr, and Accelerate's DummyOptim default: the base lr of a schedule when
// neither the config's optimizer nor the caller names one.
constexpr double kDefaultLr = 1e-3;

// Optimizers with (beta1, beta2), whose first beta OneCycle may cycle as momentum. DeepSpeed checks
// for a "betas" default on the torch optimizer; the config's type is what tandem has.
bool optimizer_has_betas(const std::optional<ModuleBlock>& optimizer) {
  if (!optimizer) return true;  // no optimizer block: the client optimizer is Adam-like by default
  std::string type = canonical_module_name(optimizer->type);
  static constexpr std::string_view with_betas[] = {"adam", "adamw", "cpuadam", "cpuadamw", "fusedadam",
                                                    "lamb", "onebitadam", "onebitlamb", "zerooneadam", "lion"};
  return std::find(std::begin(with_betas), std::end(with_betas), type) != std::end(with_betas);
}

// The lr of each optimizer group that a schedule starts from.
std::vector<double> base_lrs(const ResolvedConfig& config, const PrepareInputs& inputs) {
  if (!inputs.group_lrs.empty()) return inputs.group_lrs;
  if (config.optimizer)
    if (const json::Value* lr = config.optimizer->params.find("lr"); lr != nullptr && lr->is_number())
      return {lr->as_double()};
  return {inputs.lr.value_or(kDefaultLr)};
}

}  // namespace

Accelerator::Accelerator() : state_(State::current()) {
  if (!state_)
    throw PluginError(
        "no DeepSpeed plugins in this process yet: make the first Accelerator with its plugins, "
        "e.g. Accelerator({{\"student\", ...}, {\"teacher\", ...}})");
}

Accelerator::Accelerator(PluginSet plugins, AcceleratorOptions options)
    : state_(State::create(std::move(plugins), std::move(options))) {}

Prepared Accelerator::prepare(const PrepareInputs& inputs, std::optional<std::string_view> plugin) const {
  const std::string name = plugin ? std::string(*plugin) : state_->active_name();
  const DeepSpeedPlugin chosen = state_->plugin(name);  // PluginError for an unknown name
  const AcceleratorOptions& options = state_->options();

  ResolveInputs resolve_inputs;
  resolve_inputs.hidden_size = inputs.hidden_size;
  resolve_inputs.world_size = options.world_size;
  resolve_inputs.micro_batch = inputs.micro_batch;
  resolve_inputs.grad_accum = options.gradient_accumulation_steps;
  resolve_inputs.lr = inputs.lr;
  resolve_inputs.weight_decay = inputs.weight_decay;
  resolve_inputs.warmup_steps = inputs.warmup_steps;
  resolve_inputs.total_steps = inputs.total_steps;
  resolve_inputs.gradient_clipping = inputs.gradient_clipping;
  resolve_inputs.mixed_precision = options.mixed_precision;

  Prepared prepared;
  prepared.plugin_name_ = name;
  prepared.config_ = resolve(chosen.config(), resolve_inputs);

  if (const std::optional<ModuleBlock>& block = prepared.config_.scheduler) {
    const ModuleRegistry& registry = state_->registry();
    const ModuleInfo& module = registry.get(ModuleKind::Scheduler, block->type);
    auto instance = registry.create(module, &block->params, prepared.config_.source, name + ".scheduler");
    prepared.scheduler_ = std::make_unique<LrScheduler>(std::move(instance));
    prepared.scheduler_->bind(base_lrs(prepared.config_, inputs), optimizer_has_betas(prepared.config_.optimizer));
  }
  return prepared;
}

}  // namespace tandem
