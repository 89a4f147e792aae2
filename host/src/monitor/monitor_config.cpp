#include "monitor/monitor_config.hpp"

#include <stdexcept>
#include <string_view>
#include <vector>

#include "text/near_miss.hpp"

namespace tandem::monitor {

namespace {

[[noreturn]] void fail(const std::string& source, const json::Value& at, const std::string& path,
                       const std::string& message) {
  std::string where = source;
  if (at.position().known())
    where += ":" + std::to_string(at.position().line) + ":" + std::to_string(at.position().column);
  throw std::invalid_argument(where + ": " + path + ": " + message);
}

}  // namespace

MonitorBlock read_monitor_block(const json::Value& tree, const char* key, const std::string& config_source,
                                const std::filesystem::path& base) {
  MonitorBlock block;
  const json::Value* v = tree.find(key);
  if (v == nullptr || v->is_null()) return block;
  const std::string name = key;
  if (!v->is_object())
    fail(config_source, *v, name, "expected an object {\"enabled\": true, \"output_path\": DIR, \"job_name\": NAME}");
  static const std::vector<std::string_view> kFields = {"enabled", "output_path", "job_name"};
  for (const auto& [field, value] : v->members()) {
    const std::string path = name + "." + field;
    if (field == "enabled") {
      if (!value.is_bool()) fail(config_source, value, path, "expected true or false");
      block.enabled = value.as_bool();
    } else if (field == "output_path" || field == "job_name") {
      if (!value.is_string()) fail(config_source, value, path, "expected a string (a directory name)");
      (field == "output_path" ? block.output_path : block.job_name) = value.as_string();
    } else {
      const std::optional<std::string> near = text::nearest_name(field, kFields);
      fail(config_source, value, path,
           "unknown key of " + name + " (its keys: enabled, output_path, job_name)" +
               (near ? "; did you mean \"" + *near + "\"?" : ""));
    }
  }
  if (!block.enabled) return block;
  if (block.job_name.empty() || block.job_name.find('/') != std::string::npos || block.job_name == "." ||
      block.job_name == "..")
    fail(config_source, *v, name + ".job_name", "must be a directory name (not empty, no '/'), not '" +
                                                     block.job_name + "'");
  const std::filesystem::path dir = std::filesystem::path(block.output_path) / block.job_name;
  block.log_dir = dir.is_absolute() ? dir : base / dir;
  return block;
}

}  // namespace tandem::monitor
