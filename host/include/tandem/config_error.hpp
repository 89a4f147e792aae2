// Problems found in a DeepSpeed config. Every problem points at the text: the config's source (a
// file path, "<string>" or "<base64>"), the line:column where the offending key starts and its JSON
// path, so that a message reads "zero3_config.json:8:9: zero_optimization.reduce_bucket_size: ...".
// Validation reports every problem it finds, not just the first: one ConfigError carries them all.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/json.hpp"

namespace tandem {

// One finding (an error or a warning) about a config.
struct ConfigIssue {
  std::string source;       // file path, "<string>" or "<base64>"
  json::Position position;  // where the key (or value) starts; unknown for values tandem made
  std::string path;         // JSON path, e.g. "zero_optimization.offload_optimizer.device"; "" = root
  std::string message;      // what is wrong and what would fix it

  // "<source>:<line>:<column>: <path>: <message>" (the path part is left out for the root).
  std::string to_string() const;
};

// Thrown when a config cannot be read, is invalid, or has an "auto" that cannot be resolved.
// what() holds one line per problem, each formatted as ConfigIssue::to_string().
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string source, json::Position position, std::string path, std::string reason);
  explicit ConfigError(std::vector<ConfigIssue> problems);  // must not be empty

  // The first problem's parts (the only one's, for a single problem).
  const std::string& source() const { return problems_.front().source; }
  json::Position position() const { return problems_.front().position; }
  const std::string& path() const { return problems_.front().path; }
  const std::string& reason() const { return problems_.front().message; }

  // All problems, in the order they were found (document order within one pass).
  const std::vector<ConfigIssue>& problems() const { return problems_; }

 private:
  std::vector<ConfigIssue> problems_;
};

}  // namespace tandem
