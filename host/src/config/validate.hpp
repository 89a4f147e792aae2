// Validation of a parsed config against the schema tables: types, ranges, choices, required keys,
// unknown keys (an error in zero_optimization and its offload blocks, a warning elsewhere) and
// deprecated spellings (mapped to DeepSpeed's current key, with a warning). The result is the
// normalized tree: the same values in document order, under their current names, each keeping the
// position of the text it came from.
#pragma once

#include "findings.hpp"
#include "tandem/json.hpp"

namespace tandem::config_detail {

// Validates `root` (a whole config) and returns the normalized tree. Problems go to `findings`;
// the tree is meaningful only when findings.errors is empty.
json::Value normalize_config(const json::Value& root, Findings& findings);

}  // namespace tandem::config_detail
