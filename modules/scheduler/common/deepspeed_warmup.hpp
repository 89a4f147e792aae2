// The warm-up ramp that DeepSpeed's WarmupLR, WarmupDecayLR and WarmupCosineLR share
// (deepspeed/runtime/lr_schedules.py): kept in one place so that the three modules cannot drift
// apart. Header-only and inline: each module stays a self-contained .so that sees only the SDK.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace tandem_scheduler_common {

enum class WarmupType { Log, Linear };

// The schema's choices already restrict the text to these two. DeepSpeed warns on an unknown type
// and falls back to "log" (WarmupCosineLR does not even do that: it fails at the first warm-up
// step); tandem refuses it when the config is read, with the JSON path.
inline WarmupType parse_warmup_type(const std::string& text) {
  if (text == "log") return WarmupType::Log;
  if (text == "linear") return WarmupType::Linear;
  throw std::invalid_argument("warmup_type must be \"log\" or \"linear\", got \"" + text + "\"");
}

// DeepSpeed's W = max(2, warmup_num_steps): 0 and 1 warm-up steps both mean 2, which keeps ln(W)
// away from zero. So the first two optimizer steps always run at the minimum.
inline int64_t effective_warmup_steps(int64_t warmup_num_steps) { return std::max<int64_t>(2, warmup_num_steps); }

// How far the warm-up is at iteration `it`, for 0 <= it < W:
//   log:    ln(it + 1) / ln(W)   reaches 1 at it = W - 1
//   linear: it / W               reaches (W - 1) / W at it = W - 1, and 1 (the next phase) at it = W
inline double warmup_fraction(int64_t it, int64_t warmup_steps, WarmupType type) {
  if (type == WarmupType::Linear) return static_cast<double>(it) / static_cast<double>(warmup_steps);
  return std::log(static_cast<double>(it + 1)) / std::log(static_cast<double>(warmup_steps));
}

}  // namespace tandem_scheduler_common
