// The optimizer module a config's "optimizer.type" selects, and the rules DeepSpeed applies to the
// type before it builds anything. One table (optimizer_module.cpp) lists every type DeepSpeed's config
// names (deepspeed/runtime/config.py, DEEPSPEED_OPTIMIZERS; DeepSpeed lower-cases the type and
// compares): the module tandem runs for it, or why tandem refuses it, and whether DeepSpeed counts
// what it builds as tested under ZeRO (deepspeed/runtime/zero/utils.py, ZERO_SUPPORTED_OPTIMIZERS).
// Used by the engine and by `tandem config check`, so that what one accepts the other does.
//
// A type outside the table (DeepSpeed would take it from torch.optim) is the module of its own
// canonical name: a third-party module. A module named as the type itself is preferred to the
// table's shipped one when the registry has it (the out-of-tree Lion example is "lion"; the shipped
// FusedLion rule is "fused_lion").
#pragma once

#include <string>
#include <string_view>

#include "tandem/json.hpp"

namespace tandem {

class ModuleRegistry;

// The module name a type selects in `registry` (see above). Throws ConfigError at `type_position`
// (path `type_path`) for a DeepSpeed type tandem does not implement, naming what exists.
std::string optimizer_module_name(std::string_view config_type, const ModuleRegistry& registry,
                                  const std::string& source, json::Position type_position,
                                  const std::string& type_path);

// DeepSpeed's _do_optimizer_sanity_check: under ZeRO (stage >= 1) one of DeepSpeed's optimizer names
// outside its tested list (Lamb) needs "zero_allow_untested_optimizer": true; a module by its own name
// does not (docs/configs.md). Throws ConfigError at the type without it;
// returns a warning text (DeepSpeed's "proceed with caution") when the flag lets it through, else "".
std::string check_untested_zero_optimizer(std::string_view config_type, int zero_stage, bool allow_untested,
                                          const std::string& source, json::Position type_position,
                                          const std::string& type_path);

// The types tandem runs, lower-cased as DeepSpeed compares them ("adam, adamw, lamb, lion"), for messages.
std::string implemented_optimizer_types();

}  // namespace tandem
