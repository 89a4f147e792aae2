// The table walk behind normalize_config(): each member of an object is looked up in its block's
// table (or alias list), checked, and copied into the normalized tree under its current name.
#include "validate.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "schema.hpp"
#include "text/near_miss.hpp"
#include "tree_access.hpp"

namespace tandem::config_detail {

std::string describe_value(const json::Value& v) {
  switch (v.type()) {
    case json::Value::Type::String: {
      std::string s = v.as_string();
      if (s.size() > 40) s = s.substr(0, 37) + "...";
      return v.is_auto() ? "\"auto\"" : "a string \"" + s + "\"";
    }
    case json::Value::Type::Int:
    case json::Value::Type::Float:
    case json::Value::Type::Bool: return json::to_string(v);
    default: return v.type_name();
  }
}

namespace {

std::string kind_text(ValueKind k) {
  switch (k) {
    case ValueKind::Bool: return "a boolean";
    case ValueKind::Integer: return "an integer";
    case ValueKind::Number: return "a number";
    case ValueKind::String: return "a string";
    case ValueKind::Object: return "an object";
    case ValueKind::StringOrObject: return "a string or an object";
    case ValueKind::Any: return "a value";
  }
  return "?";
}

bool matches_kind(const json::Value& v, ValueKind k) {
  switch (k) {
    case ValueKind::Bool: return v.is_bool();
    case ValueKind::Integer: return v.is_integral();  // 5e8 is an integer, as DeepSpeed reads it
    case ValueKind::Number: return v.is_number();
    case ValueKind::String: return v.is_string();
    case ValueKind::Object: return v.is_object();
    case ValueKind::StringOrObject: return v.is_string() || v.is_object();
    case ValueKind::Any: return true;
  }
  return false;
}

std::string quoted_list(std::span<const std::string_view> items) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) s += ", ";
    s.append(1, '"').append(items[i]).append(1, '"');
  }
  return s;
}

// "an integer, null or \"auto\"".
std::string expected_text(const Key& key) {
  std::vector<std::string> alternatives;
  alternatives.push_back(key.choices.empty() ? kind_text(key.kind) : "one of " + quoted_list(key.choices));
  if (key.nullable) alternatives.push_back("null");
  if (key.auto_allowed) alternatives.push_back("\"auto\"");
  std::string s = alternatives[0];
  for (size_t i = 1; i < alternatives.size(); ++i) s += (i + 1 == alternatives.size() ? " or " : ", ") + alternatives[i];
  return s;
}

std::string with_default(const Key& key) {
  if (key.dflt.kind == DefaultValue::Kind::Required) return "";
  return " (DeepSpeed's default: " + key.dflt.to_text() + ")";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// " (did you mean \"reduce_bucket_size\"?)" for a near miss, else "".
std::string suggestion(std::string_view unknown, const Block& block) {
  std::string_view best;
  size_t best_distance = std::max<size_t>(2, unknown.size() / 4) + 1;
  auto consider = [&](std::string_view name) {
    const size_t d = text::edit_distance(lower(unknown), name);
    if (d < best_distance) {
      best_distance = d;
      best = name;
    }
  };
  for (const Key& k : block.keys) consider(k.name);
  for (const Alias& a : block.aliases) consider(a.name);
  return best.empty() ? "" : " (did you mean \"" + std::string(best) + "\"?)";
}

class Normalizer {
 public:
  explicit Normalizer(Findings& f) : f_(f) {}

  json::Value block(const json::Value& in, const Block& block);

 private:
  std::optional<json::Value> value(const json::Value& v, const Key& key);
  bool range_ok(const json::Value& v, const Key& key);

  Findings& f_;
};

// A bound as people write it: 3 rather than 3.0.
std::string bound_text(double v) {
  if (std::trunc(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  return number_text(v);
}

bool Normalizer::range_ok(const json::Value& v, const Key& key) {
  if (!v.is_number()) return true;
  const double x = v.as_double();
  const bool low_ok = !key.has_min || (key.min_exclusive ? x > key.min : x >= key.min);
  const bool high_ok = !key.has_max || x <= key.max;
  if (low_ok && high_ok) return true;
  std::string bound;
  if (key.has_min && key.has_max)
    bound = "between " + bound_text(key.min) + " and " + bound_text(key.max);
  else if (key.has_min)
    bound = (key.min_exclusive ? "> " : ">= ") + bound_text(key.min);
  else
    bound = "<= " + bound_text(key.max);
  f_.error(v, "must be " + bound + ", got " + json::to_string(v));
  return false;
}

std::optional<json::Value> Normalizer::value(const json::Value& v, const Key& key) {
  if (v.is_auto()) {
    if (key.auto_allowed) return v;
    f_.error(v, "\"auto\" is not accepted here: expected " + expected_text(key));
    return std::nullopt;
  }
  if (v.is_null() && key.nullable) return v;
  if (!matches_kind(v, key.kind) || v.is_null()) {
    f_.error(v, "expected " + expected_text(key) + ", got " + describe_value(v) + with_default(key));
    return std::nullopt;
  }
  if (!key.choices.empty()) {
    const std::string written = key.choices_ignore_case ? lower(v.as_string()) : v.as_string();
    if (std::find(key.choices.begin(), key.choices.end(), written) == key.choices.end()) {
      f_.error(v, "expected " + expected_text(key) + ", got \"" + v.as_string() + "\"");
      return std::nullopt;
    }
  }
  if (!range_ok(v, key)) return std::nullopt;
  if (v.is_object() && key.contents == Contents::Schema) return block(v, *key.block);
  return v;
}

json::Value Normalizer::block(const json::Value& in, const Block& block) {
  json::Value out = json::Value::object();
  out.set_position(in.position());
  out.set_path(in.path());
  // Current key name -> how it was first written, to catch one key given twice.
  struct Seen {
    std::string path;
    json::Position position;
    bool deprecated;
  };
  std::map<std::string, Seen, std::less<>> seen;
  auto claim = [&](std::string_view current, const json::Value& at, bool deprecated) {
    auto [it, fresh] = seen.try_emplace(std::string(current), Seen{at.path(), at.position(), deprecated});
    if (fresh) return true;
    const Seen& first = it->second;
    f_.error(at, "sets the same key as \"" + first.path + "\" (at " + std::to_string(first.position.line) + ":" +
                     std::to_string(first.position.column) + ")" +
                     (deprecated || first.deprecated
                          ? ": DeepSpeed refuses a deprecated key together with its replacement; keep \"" +
                                std::string(current) + "\" only"
                          : ": give it once"));
    return false;
  };
  const std::string block_label = block.name.empty() ? "the top level" : "\"" + std::string(block.name) + "\"";

  for (const auto& [name, v] : in.members()) {
    if (const Key* key = block.find(name)) {
      std::optional<json::Value> checked = value(v, *key);
      if (claim(name, v, false) && checked) out.members().emplace_back(name, std::move(*checked));
      continue;
    }
    if (const Alias* alias = block.find_alias(name)) {
      const Key* target = alias->canonical.empty() ? nullptr : block.find(alias->canonical);
      switch (alias->kind) {
        case AliasKind::Rename: {
          const std::string what = alias->deprecated ? "is deprecated" : "is DeepSpeed's field name for \"" +
                                                                               std::string(alias->canonical) + "\"";
          f_.warn(v, "\"" + name + "\" " + what + "; read as \"" + std::string(alias->canonical) + "\"");
          std::optional<json::Value> checked = value(v, *target);
          if (claim(alias->canonical, v, alias->deprecated) && checked)
            out.members().emplace_back(std::string(alias->canonical), std::move(*checked));
          break;
        }
        case AliasKind::OffloadFlag: {
          if (!matches_kind(v, alias->value_kind)) {
            f_.error(v, "expected " + kind_text(alias->value_kind) + ", got " + describe_value(v) +
                            " (deprecated: " + std::string(alias->note) + ")");
            break;
          }
          f_.warn(v, "\"" + name + "\" is deprecated: " + std::string(alias->note) +
                         (v.as_bool() ? "; read as " + std::string(alias->canonical) + ".device = \"cpu\""
                                      : "; false means no offload"));
          if (!claim(alias->canonical, v, true) || !v.as_bool()) break;
          json::Value offload = json::Value::object();
          offload.members().emplace_back("device", json::Value::string("cpu"));
          stamp(offload, v.position());
          out.members().emplace_back(std::string(alias->canonical), std::move(offload));
          break;
        }
        case AliasKind::Ignored:
          if (!matches_kind(v, alias->value_kind)) {
            f_.error(v, "expected " + kind_text(alias->value_kind) + ", got " + describe_value(v));
            break;
          }
          f_.warn(v, "\"" + name + "\" is deprecated and has no effect: " + std::string(alias->note));
          break;
      }
      continue;
    }
    // Unknown: kept in the tree (DeepSpeed ignores what it does not read), reported by the block's rule.
    switch (block.unknown) {
      case UnknownKeys::Error:
        f_.error(v, "unknown key \"" + name + "\" in " + block_label +
                        (block.name.starts_with("tandem") ? " (tandem's own block: it knows every key it reads)"
                                                          : " (DeepSpeed's config model for it forbids unknown keys)") +
                        suggestion(name, block));
        break;
      case UnknownKeys::Warn:
        f_.warn(v, "unknown key \"" + name + "\" in " + block_label + ": DeepSpeed ignores it" +
                       suggestion(name, block));
        out.members().emplace_back(name, v);
        break;
      case UnknownKeys::Allow: out.members().emplace_back(name, v); break;
    }
  }
  for (const Key& key : block.keys)
    if (key.dflt.kind == DefaultValue::Kind::Required && !seen.contains(key.name))
      f_.error(in, "missing \"" + std::string(key.name) + "\", which " + block_label + " requires");
  return out;
}

// DeepSpeed's legacy form "zero_optimization": true|false means stage 1 (with allgather_bucket_size
// from the top-level "allgather_size") or stage 0. Rewrites it into the object form.
json::Value expand_boolean_zero(const json::Value& root, Findings& f) {
  json::Value copy = root;
  json::Value* zero = copy.find("zero_optimization");
  const json::Value* allgather_size = root.find("allgather_size");
  if (zero == nullptr || !zero->is_bool()) {
    if (allgather_size != nullptr)
      f.warn(*allgather_size, "\"allgather_size\" is read only with the legacy boolean \"zero_optimization\"; "
                              "DeepSpeed ignores it here (use zero_optimization.allgather_bucket_size)");
    return copy;
  }
  const bool on = zero->as_bool();
  f.warn(*zero, std::string("a boolean \"zero_optimization\" is deprecated; read as {\"stage\": ") +
                    (on ? "1" : "0") + "}");
  json::Value expanded = json::Value::object();
  expanded.members().emplace_back("stage", json::Value::integer(on ? 1 : 0));
  if (on) {
    json::Value bucket = json::Value::integer(500'000'000);
    if (allgather_size != nullptr && allgather_size->is_integral()) {
      bucket = *allgather_size;
      bucket.set_position(allgather_size->position());
    }
    expanded.members().emplace_back("allgather_bucket_size", std::move(bucket));
  }
  stamp(expanded, zero->position());
  expanded.set_path(zero->path());
  *zero = std::move(expanded);
  json::assign_paths(*zero, "zero_optimization");
  return copy;
}

}  // namespace

json::Value normalize_config(const json::Value& root, Findings& findings) {
  if (!root.is_object()) {
    findings.error(root, "a DeepSpeed config is a JSON object, got " + describe_value(root));
    return json::Value::object();
  }
  const json::Value expanded = expand_boolean_zero(root, findings);
  Normalizer normalizer(findings);
  json::Value out = normalizer.block(expanded, top_level_block());
  json::assign_paths(out, "");
  return out;
}

}  // namespace tandem::config_detail
