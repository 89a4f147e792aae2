// Parameter validation for create(): the config's params against the module's schema, then the
// C array the factory receives. See param_binding.hpp.
#include "loader/param_binding.hpp"

#include <charconv>
#include <cstring>

#include "tandem/registry.hpp"

namespace tandem::loader {

std::string format_number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

const tandem_param_spec& param_spec_at(const tandem_module_descriptor& descriptor, size_t i) {
  const size_t stride = descriptor.params[0].struct_size;
  return *reinterpret_cast<const tandem_param_spec*>(reinterpret_cast<const char*>(descriptor.params) +
                                                     i * stride);
}

namespace {

bool in_choices(const tandem_param_spec& spec, const std::string& text) {
  if (spec.choices == nullptr) return true;
  for (const char* const* c = spec.choices; *c != nullptr; ++c)
    if (text == *c) return true;
  return false;
}

std::string list_choices(const tandem_param_spec& spec) {
  std::string out;
  for (const char* const* c = spec.choices; *c != nullptr; ++c) out += (out.empty() ? "\"" : ", \"") + std::string(*c) + "\"";
  return out;
}

// The text of a number for a message: integers without a fraction.
std::string number_text(const json::Value& v) {
  return v.is_int() ? std::to_string(v.as_int()) : format_number(v.as_double());
}

std::optional<std::string> check_range(const tandem_param_spec& spec, const json::Value& v) {
  const double x = v.as_double();
  if (x < spec.min) return "out of range: " + number_text(v) + " is below the minimum " + format_number(spec.min);
  if (x > spec.max) return "out of range: " + number_text(v) + " is above the maximum " + format_number(spec.max);
  return std::nullopt;
}

std::optional<ParamProblem> problem(std::string message, const json::Value& at,
                                    std::optional<size_t> index = std::nullopt) {
  return ParamProblem{std::move(message), &at, index};
}

}  // namespace

std::optional<ParamProblem> check_param_value(const tandem_param_spec& spec, const json::Value& v) {
  // "auto" is Accelerate's placeholder, filled from the run and the model when the config is
  // resolved; one that reaches a module means that resolution missed it.
  if (v.is_auto() && !(spec.type == TANDEM_PARAM_STRING && spec.choices != nullptr && in_choices(spec, "auto")))
    return problem("the value is still \"auto\"; \"auto\" should have been resolved before the module is created "
                   "(give a value, or a setting that \"auto\" can be resolved from)",
                   v);
  switch (spec.type) {
    case TANDEM_PARAM_BOOL:
      if (!v.is_bool()) return problem("expected a boolean, got " + v.type_name(), v);
      return std::nullopt;
    case TANDEM_PARAM_INT:
      if (!v.is_number()) return problem("expected an integer, got " + v.type_name(), v);
      if (!v.is_integral()) return problem("expected an integer, got " + number_text(v), v);
      if (auto r = check_range(spec, v)) return problem(*r, v);
      return std::nullopt;
    case TANDEM_PARAM_FLOAT:
      if (!v.is_number()) return problem("expected a number, got " + v.type_name(), v);
      if (auto r = check_range(spec, v)) return problem(*r, v);
      return std::nullopt;
    case TANDEM_PARAM_STRING:
      if (!v.is_string()) return problem("expected a string, got " + v.type_name(), v);
      if (!in_choices(spec, v.as_string()))
        return problem("\"" + v.as_string() + "\" is not one of " + list_choices(spec), v);
      return std::nullopt;
    case TANDEM_PARAM_FLOAT_PER_GROUP: {
      if (v.is_number()) {
        if (auto r = check_range(spec, v)) return problem(*r, v);
        return std::nullopt;
      }
      if (!v.is_array() || v.items().empty())
        return problem("expected a number or a non-empty array of numbers (one per parameter group), got " +
                           (v.is_array() ? std::string("an empty array") : v.type_name()),
                       v);
      const auto& items = v.items();
      for (size_t i = 0; i < items.size(); ++i) {
        if (items[i].is_auto()) return problem("the value is still \"auto\"; \"auto\" should have been resolved before the module is created", items[i], i);
        if (!items[i].is_number()) return problem("expected a number, got " + items[i].type_name(), items[i], i);
        if (auto r = check_range(spec, items[i])) return problem(*r, items[i], i);
      }
      return std::nullopt;
    }
    default:
      return problem("the module declares an unknown parameter type " + std::to_string(spec.type), v);
  }
}

namespace {

// Formats and throws one error about the config.
class ErrorSink {
 public:
  ErrorSink(const std::string& source, const std::string& module_context)
      : source_(source), context_(module_context) {}

  // `fallback_path` is used when the value carries no path (a tree built in code, not parsed).
  [[noreturn]] void fail(const json::Value* at, const std::string& fallback_path, const std::string& message) const {
    const json::Position pos = at ? at->position() : json::Position{};
    const std::string path = at && !at->path().empty() ? at->path() : fallback_path;
    throw ModuleError(json::where(source_, pos) + ": " + path + ": " + message + " (" + context_ + ")");
  }

 private:
  const std::string& source_;
  const std::string& context_;
};

std::string accepted_names(const tandem_module_descriptor& d) {
  if (d.param_count == 0) return std::string(d.name) + " accepts no parameters";
  std::string out = std::string(d.name) + " accepts: ";
  for (size_t i = 0; i < d.param_count; ++i) out += (i ? ", " : "") + std::string(param_spec_at(d, i).name);
  return out;
}

tandem_param_value to_param_value(const tandem_param_spec& spec, const json::Value& v,
                                  std::deque<std::string>& strings, std::deque<std::vector<double>>& lists) {
  tandem_param_value out{};
  out.struct_size = sizeof(tandem_param_value);
  out.name = spec.name;
  out.type = spec.type;
  switch (spec.type) {
    case TANDEM_PARAM_BOOL: out.bool_value = v.as_bool() ? 1 : 0; break;
    case TANDEM_PARAM_INT: out.int_value = v.as_int(); break;
    case TANDEM_PARAM_FLOAT: out.float_value = v.as_double(); break;
    case TANDEM_PARAM_STRING:
      strings.push_back(v.as_string());
      out.string_value = strings.back().c_str();
      break;
    case TANDEM_PARAM_FLOAT_PER_GROUP: {
      std::vector<double> list;
      if (v.is_number()) {
        list.push_back(v.as_double());
      } else {
        for (const json::Value& item : v.items()) list.push_back(item.as_double());
      }
      lists.push_back(std::move(list));
      out.list_values = lists.back().data();
      out.list_size = lists.back().size();
      break;
    }
    default: break;
  }
  return out;
}

}  // namespace

BoundParams bind_params(const tandem_module_descriptor& d, const json::Value* params, const std::string& source,
                        const std::string& module_context, bool autos_pending) {
  const ErrorSink sink(source, module_context);
  const json::Value* params_text = params;  // kept for the position of "missing" errors
  if (params != nullptr && params->is_null()) params = nullptr;  // "params": null means none
  if (params != nullptr && !params->is_object())
    sink.fail(params, "params", "expected an object of parameters, got " + params->type_name());

  // Every key must be a parameter of the module: a typo must not silently fall back to a default.
  if (params != nullptr) {
    for (const json::Value::Member& m : params->members()) {
      bool known = false;
      std::string near_miss;
      for (size_t i = 0; i < d.param_count && !known; ++i) {
        const char* name = param_spec_at(d, i).name;
        known = m.first == name;
        if (!known && canonical_module_name(m.first) == canonical_module_name(name)) near_miss = name;
      }
      if (!known)
        sink.fail(&m.second, m.first,
                  "unknown parameter '" + m.first + "'" +
                      (near_miss.empty() ? std::string() : " (did you mean '" + near_miss + "'?)") + "; " +
                      accepted_names(d));
    }
  }

  BoundParams bound;
  bound.values_.reserve(d.param_count);
  for (size_t i = 0; i < d.param_count; ++i) {
    const tandem_param_spec& spec = param_spec_at(d, i);
    const json::Value* given = params != nullptr ? params->find(spec.name) : nullptr;
    // null is Python's None: DeepSpeed's configs write it for "use the default" (OneCycle's
    // cycle_second_step_size), so an optional parameter given as null takes its default.
    if (given != nullptr && given->is_null() && spec.required == 0 && spec.default_json != nullptr) given = nullptr;
    if (given != nullptr && autos_pending && given->is_auto()) {
      tandem_param_value pending{};
      pending.struct_size = sizeof(tandem_param_value);
      pending.name = spec.name;
      pending.type = spec.type;
      bound.values_.push_back(pending);
      continue;
    }
    if (given != nullptr) {
      if (auto p = check_param_value(spec, *given)) {
        std::string fallback = spec.name;
        if (p->index) fallback += "[" + std::to_string(*p->index) + "]";
        sink.fail(p->at, fallback, p->message);
      }
      bound.values_.push_back(to_param_value(spec, *given, bound.strings_, bound.lists_));
      continue;
    }
    if (spec.required != 0 || spec.default_json == nullptr)
      sink.fail(params_text, "params",
                "missing required parameter '" + std::string(spec.name) + "'" +
                    (spec.help != nullptr ? std::string(" (") + spec.help + ")" : std::string()));
    // The default was parsed and checked when the module was loaded; parse it again for its value.
    const json::Document def = json::parse(spec.default_json, "default of parameter '" + std::string(spec.name) + "'");
    bound.values_.push_back(to_param_value(spec, def.root, bound.strings_, bound.lists_));
  }
  return bound;
}

}  // namespace tandem::loader
