// What Accelerate's DeepSpeedPlugin and `prepare` do to a DeepSpeed config, beyond resolving its
// "auto" values (../shared/reference/deepspeed-semantics.md, 1.1 and 1.6; Accelerate's
// utils/dataclasses.py DeepSpeedPlugin.__post_init__ and accelerator.py _prepare_deepspeed):
//   - a plugin needs a zero_optimization block, and a missing gradient_accumulation_steps is 1;
//   - an optimizer or scheduler given in code replaces none in the config (both is an error);
//   - a concrete gradient_accumulation_steps that differs from the Accelerator's is warned about;
//   - after prepare the plugin's config holds the filled values.
// docs/configs.md ("Accelerate's prepare") lists where tandem differs and why.
#pragma once

#include <optional>
#include <string>

#include "tandem/accelerator.hpp"

namespace tandem::plugin_rules {

// Why a config cannot be a DeepSpeedPlugin's (it has no zero_optimization block), or nullopt.
std::optional<ConfigIssue> refusal(const DeepSpeedConfig& config);

// The config a plugin holds: refused as above (ConfigError), a missing gradient_accumulation_steps
// set to 1.
DeepSpeedConfig adopt(DeepSpeedConfig config);

// The config one prepare() resolves: the plugin's, with the optimizer and scheduler given in code
// (inputs.optimizer / inputs.scheduler) as its blocks. ConfigError when the config has its own.
DeepSpeedConfig with_client_modules(const DeepSpeedConfig& plugin_config, const PrepareInputs& inputs);

// Accelerate's "Gradient accumulation steps mismatch" warning, when the Accelerator was given a
// gradient accumulation that the config's concrete value overrides.
std::optional<ConfigIssue> gradient_accumulation_mismatch(const DeepSpeedConfig& plugin_config,
                                                          std::optional<int64_t> accelerator_steps);

// The plugin's config after prepare: each "auto" it held replaced by the value `resolved` chose (with
// a model; without one only gradient_accumulation_steps, as Accelerate fills the rest only when it
// initialises an engine), the precision block mixed precision added, and
// zero_allow_untested_optimizer set when an optimizer was given in code.
DeepSpeedConfig filled(const DeepSpeedConfig& plugin_config, const ResolvedConfig& resolved, bool with_model,
                       bool client_optimizer);

}  // namespace tandem::plugin_rules
