// Accelerator: shares or creates the process's State, and prepare() binds a plugin's config, resolved,
// to what it prepares.
#include "tandem/accelerator.hpp"

#include <algorithm>

#include "runtime/plugin_rules.hpp"
#include "tandem/model.h"

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

  // On a GPU the communicator knows the world (and opening it is the first thing a GPU run does).
  const bool on_gpu = options.device == RunDevice::cuda;
  ResolveInputs resolve_inputs;
  resolve_inputs.hidden_size = inputs.hidden_size;
  resolve_inputs.world_size = on_gpu ? state_->world_size() : options.world_size;
  resolve_inputs.micro_batch = inputs.micro_batch;
  resolve_inputs.grad_accum = options.gradient_accumulation_steps;
  resolve_inputs.lr = inputs.lr;
  resolve_inputs.weight_decay = inputs.weight_decay;
  resolve_inputs.warmup_steps = inputs.warmup_steps;
  resolve_inputs.total_steps = inputs.total_steps;
  resolve_inputs.gradient_clipping = inputs.gradient_clipping;
  resolve_inputs.mixed_precision = options.mixed_precision;

  // A model comes first: its hidden size fills the "auto" bucket sizes (Accelerate reads
  // model.config.hidden_size the same way). One replica per rank.
  const ModuleRegistry& registry = state_->registry();
  std::vector<std::shared_ptr<ModuleInstance>> models;
  if (inputs.model) {
    const ModuleInfo& module = registry.get(ModuleKind::Model, inputs.model->type);
    const int64_t ranks = on_gpu ? state_->local_ranks() : options.world_size;
    for (int64_t r = 0; r < ranks; ++r)
      models.push_back(registry.create(module, &inputs.model->params, inputs.model->source, name + ".model"));
    if (!resolve_inputs.hidden_size)
      resolve_inputs.hidden_size = models.front()->vtable<tandem_model_vtable>().hidden_size(models.front()->handle());
  }

  Prepared prepared;
  prepared.plugin_name_ = name;
  // The optimizer and scheduler given in code join the config this prepare resolves, not the plugin's.
  prepared.config_ = resolve(plugin_rules::with_client_modules(chosen.config(), inputs), resolve_inputs);
  if (std::optional<ConfigIssue> mismatch =
          plugin_rules::gradient_accumulation_mismatch(chosen.config(), options.gradient_accumulation_steps))
    prepared.config_.warnings.push_back(*mismatch);
  const ResolvedConfig& config = prepared.config_;
  if (inputs.model && !config.optimizer && (config.zero.stage == 1 || config.zero.stage == 2))
    throw ConfigError(config.source, json::Position{}, "zero_optimization.stage",
                      "ZeRO stage " + std::to_string(config.zero.stage) +
                          " partitions optimizer state, so it needs an optimizer, and this config has no "
                          "\"optimizer\" block (DeepSpeed refuses the same). Give it one to train, or use a stage-3 "
                          "config to run the model for inference only");

  if (const std::optional<ModuleBlock>& block = config.scheduler) {
    const ModuleInfo& module = registry.get(ModuleKind::Scheduler, block->type);
    auto instance = registry.create(module, &block->params, config.source, name + ".scheduler");
    prepared.scheduler_ = std::make_unique<LrScheduler>(std::move(instance));
    std::vector<double> lrs = base_lrs(config, inputs);
    // An engine has two groups (with and without weight decay) at the same lr.
    if (inputs.model && inputs.group_lrs.empty()) lrs.assign(2, lrs.front());
    prepared.scheduler_->bind(lrs, optimizer_has_betas(config.optimizer));
  }
  if (inputs.model) {
    prepared.engine_.reset(new Engine());
    prepared.engine_->name_ = name;
    prepared.engine_->config_ = config;
    prepared.engine_->build(registry, std::move(models), inputs.model->seed, prepared.scheduler_.get(),
                            state_->ranks(), state_->comm(), state_->gpu());
  }
  // Accelerate fills plugin.deepspeed_config in place; here only once everything above succeeded, so
  // that a failed prepare leaves the plugin as it was.
  state_->set_plugin_config(name, plugin_rules::filled(chosen.config(), config, inputs.model.has_value(),
                                                       inputs.optimizer.has_value()));
  return prepared;
}

}  // namespace tandem
