// Loading a config: from a file, from text, or from an argument that is either (or base64 JSON);
// then validation into a DeepSpeedConfig.
#include <system_error>

#include "base64.hpp"
#include "checks.hpp"
#include "findings.hpp"
#include "tandem/config.hpp"
#include "tree_access.hpp"
#include "validate.hpp"

namespace tandem {

namespace {

ConfigError from_parse_error(const json::ParseError& e) {
  return ConfigError(e.source(), e.position(), "", e.reason());
}

void collect_autos(const json::Value& v, std::vector<const json::Value*>& out) {
  if (v.is_auto()) {
    out.push_back(&v);
  } else if (v.is_object()) {
    for (const auto& m : v.members()) collect_autos(m.second, out);
  } else if (v.is_array()) {
    for (const auto& item : v.items()) collect_autos(item, out);
  }
}

std::string_view trim_front(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  return s;
}

}  // namespace

DeepSpeedConfig::DeepSpeedConfig(json::Document document) : document_(std::move(document)) {
  config_detail::Findings f{document_.source, {}, {}};
  tree_ = config_detail::normalize_config(document_.root, f);
  config_detail::check_cross_key_rules(tree_, f);
  f.throw_if_errors();
  warnings_ = std::move(f.warnings);
}

const json::Value* DeepSpeedConfig::find(std::string_view dotted_path) const {
  return config_detail::find_path(tree_, dotted_path);
}

std::vector<const json::Value*> DeepSpeedConfig::autos() const {
  std::vector<const json::Value*> out;
  collect_autos(tree_, out);
  return out;
}

std::optional<int> DeepSpeedConfig::zero_stage() const {
  const std::optional<int64_t> stage = config_detail::stated_zero_stage(tree_);
  if (!stage) return std::nullopt;
  return static_cast<int>(*stage);
}

DeepSpeedConfig load_config_file(const std::filesystem::path& file) {
  try {
    return DeepSpeedConfig(json::parse_file(file));
  } catch (const json::ParseError& e) {
    throw from_parse_error(e);
  }
}

DeepSpeedConfig load_config_text(std::string_view text, std::string source) {
  try {
    return DeepSpeedConfig(json::parse(text, std::move(source)));
  } catch (const json::ParseError& e) {
    throw from_parse_error(e);
  }
}

DeepSpeedConfig load_config(const std::string& arg) {
  std::error_code ec;
  if (!arg.empty() && std::filesystem::exists(arg, ec)) return load_config_file(arg);
  // JSON text: an object (what a config is), reported with its parse errors if it is malformed.
  const std::string_view body = trim_front(arg);
  if (!body.empty() && (body.front() == '{' || body.front() == '[')) return load_config_text(arg);
  if (const auto decoded = config_detail::decode_base64(body); decoded && trim_front(*decoded).starts_with("{"))
    return load_config_text(*decoded, "<base64>");
  std::string shown = arg.size() > 80 ? arg.substr(0, 77) + "..." : arg;
  throw ConfigError(shown, {}, "",
                    "not a config: no such file, and neither JSON text nor urlsafe-base64-encoded JSON");
}

}  // namespace tandem
