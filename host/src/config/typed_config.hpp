// The typed view of a resolved tree: every field of ResolvedConfig that the runtime reads, taken
// from the tree or, for a key the config leaves out, from DeepSpeed's default in the schema tables.
#pragma once

#include "tandem/config_resolved.hpp"
#include "tandem/json.hpp"

namespace tandem::config_detail {

// Fills the typed fields of `out` (all but tree, resolutions, derived, warnings and batch) from a
// resolved tree (no "auto" left, validated).
void fill_typed_fields(const json::Value& tree, ResolvedConfig& out);

}  // namespace tandem::config_detail
