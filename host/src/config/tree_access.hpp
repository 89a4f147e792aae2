// Reading a (normalized) config tree by dotted path, and reading a value only when it is concrete:
// a missing key or an "auto" reads as nullopt, so that rules run on what is known.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tandem/json.hpp"

namespace tandem::config_detail {

// "zero_optimization.offload_optimizer.device" -> the value, or nullptr if any part is missing.
inline const json::Value* find_path(const json::Value& root, std::string_view dotted) {
  const json::Value* v = &root;
  while (v != nullptr && !dotted.empty()) {
    const size_t dot = dotted.find('.');
    v = v->find(dotted.substr(0, dot));
    dotted = dot == std::string_view::npos ? std::string_view{} : dotted.substr(dot + 1);
  }
  return v;
}

inline std::optional<bool> concrete_bool(const json::Value* v) {
  if (v == nullptr || !v->is_bool()) return std::nullopt;
  return v->as_bool();
}
inline std::optional<int64_t> concrete_int(const json::Value* v) {
  if (v == nullptr || !v->is_integral()) return std::nullopt;
  return v->as_int();
}
inline std::optional<double> concrete_number(const json::Value* v) {
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->as_double();
}
inline std::optional<std::string> concrete_string(const json::Value* v) {
  if (v == nullptr || !v->is_string() || v->is_auto()) return std::nullopt;
  return v->as_string();
}

// The ZeRO stage as the tree states it: 0 when zero_optimization or its stage is absent, nullopt
// while it is "auto".
inline std::optional<int64_t> stated_zero_stage(const json::Value& root) {
  const json::Value* zero = root.find("zero_optimization");
  if (zero == nullptr || zero->is_null()) return 0;
  const json::Value* stage = zero->find("stage");
  if (stage == nullptr) return 0;
  return concrete_int(stage);
}

// Gives `v` and everything under it the position `pos` where it has none (values tandem makes,
// such as a resolved "auto" or the block a deprecated flag stands for, point at the text they
// replace).
inline void stamp(json::Value& v, json::Position pos) {
  if (!v.position().known()) v.set_position(pos);
  if (v.is_object())
    for (auto& m : v.members()) stamp(m.second, pos);
  else if (v.is_array())
    for (auto& item : v.items()) stamp(item, pos);
}

// "12:5" for messages that point at a second place in the same file.
inline std::string line_col(json::Position p) {
  return std::to_string(p.line) + ":" + std::to_string(p.column);
}

}  // namespace tandem::config_detail
