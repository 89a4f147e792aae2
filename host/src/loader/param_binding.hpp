// Checks a config's "params" against a module's parameter schema (TensorRT's plugin-field idea,
// STYLE.md 6) and turns them into the tandem_param_value array create() receives. Everything is
// checked before the module is called, and each error points at the offending value in the config.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "tandem/abi.h"
#include "tandem/json.hpp"

namespace tandem::loader {

// Why a value does not fit its spec. `at` is the value to point at (an element, for a list);
// `index` is that element's index in the list, if it is one.
struct ParamProblem {
  std::string message;  // e.g. "expected a number, got a string"
  const json::Value* at;
  std::optional<size_t> index;
};

// Checks one value against one spec: type, range (each element of a list), choices, and that it is
// not a leftover "auto". Used for config values and for the module's own defaults alike.
std::optional<ParamProblem> check_param_value(const tandem_param_spec& spec, const json::Value& value);

// The i-th spec of a descriptor's parameter table. The table's stride is its elements' struct_size
// (not this host's sizeof), so a module built against an older minor, with smaller specs, is still
// read right. Only call on a validated descriptor.
const tandem_param_spec& param_spec_at(const tandem_module_descriptor& descriptor, size_t i);

// "1000", "0.001", "-1e+30": the shortest text that reads back as the same double.
std::string format_number(double value);

// Validated parameter values in schema order, with the storage their strings and lists point into.
// The pointers stay valid while this object lives (moving it keeps them: deque elements stay put).
class BoundParams {
 public:
  const tandem_param_value* data() const { return values_.data(); }
  size_t size() const { return values_.size(); }
  const std::vector<tandem_param_value>& values() const { return values_; }

 private:
  friend BoundParams bind_params(const tandem_module_descriptor&, const json::Value*, const std::string&,
                                 const std::string&, bool);
  std::vector<tandem_param_value> values_;
  std::deque<std::string> strings_;
  std::deque<std::vector<double>> lists_;
};

// Validates `params` (an object, or null / absent for none) against the descriptor's schema and fills
// defaults. Throws ModuleError "<source>:<line>:<column>: <json path>: <problem> (<module_context>)";
// `module_context` names the module and its file. An unknown key lists the accepted names.
// `autos_pending` (config check, before a run's facts are known): a value still "auto" counts as
// given and is left unchecked, bound as the type's zero; it is resolved when a run prepares.
BoundParams bind_params(const tandem_module_descriptor& descriptor, const json::Value* params,
                        const std::string& source, const std::string& module_context, bool autos_pending = false);

}  // namespace tandem::loader
