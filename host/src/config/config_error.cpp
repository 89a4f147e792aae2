#include "tandem/config_error.hpp"

namespace tandem {

std::string ConfigIssue::to_string() const {
  std::string s = json::where(source, position) + ": ";
  if (!path.empty()) s += path + ": ";
  return s + message;
}

namespace {

std::string join_lines(const std::vector<ConfigIssue>& problems) {
  std::string s;
  for (const ConfigIssue& p : problems) {
    if (!s.empty()) s += '\n';
    s += p.to_string();
  }
  return s;
}

std::vector<ConfigIssue> non_empty(std::vector<ConfigIssue> problems) {
  if (problems.empty()) problems.push_back({"<config>", {}, "", "invalid config (no details were recorded)"});
  return problems;
}

}  // namespace

ConfigError::ConfigError(std::string source, json::Position position, std::string path, std::string reason)
    : ConfigError(std::vector<ConfigIssue>{{std::move(source), position, std::move(path), std::move(reason)}}) {}

ConfigError::ConfigError(std::vector<ConfigIssue> problems)
    : std::runtime_error(join_lines(non_empty(problems))), problems_(non_empty(std::move(problems))) {}

}  // namespace tandem
