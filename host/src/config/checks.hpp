// Rules that involve more than one key (fp16 with bf16, options that need a given ZeRO stage,
// max_grad_norm, NVMe without a path). They run on the normalized tree at load, where a rule that
// depends on an "auto" is skipped, and again on the resolved tree, where nothing is "auto".
#pragma once

#include "findings.hpp"
#include "tandem/json.hpp"

namespace tandem::config_detail {

void check_cross_key_rules(const json::Value& tree, Findings& findings);

}  // namespace tandem::config_detail
