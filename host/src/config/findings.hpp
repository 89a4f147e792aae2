// Collects the errors and warnings of one pass over a config, so that every problem is reported
// at once, each with the config's source, the position and JSON path of the value concerned.
#pragma once

#include <string>
#include <vector>

#include "tandem/config_error.hpp"
#include "tandem/json.hpp"

namespace tandem::config_detail {

struct Findings {
  std::string source;
  std::vector<ConfigIssue> errors;
  std::vector<ConfigIssue> warnings;

  void error(const json::Value& at, std::string message) {
    errors.push_back({source, at.position(), at.path(), std::move(message)});
  }
  void error(json::Position pos, std::string path, std::string message) {
    errors.push_back({source, pos, std::move(path), std::move(message)});
  }
  void warn(const json::Value& at, std::string message) {
    warnings.push_back({source, at.position(), at.path(), std::move(message)});
  }
  void warn(json::Position pos, std::string path, std::string message) {
    warnings.push_back({source, pos, std::move(path), std::move(message)});
  }
  // Throws ConfigError with every error found, if any.
  void throw_if_errors() const {
    if (!errors.empty()) throw ConfigError(errors);
  }
};

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
inline std::string join_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

// How a value reads in a message: "a string \"5e8\"", "1.5", "true", "an object".
std::string describe_value(const json::Value& v);

}  // namespace tandem::config_detail
