// Helpers for the config tests: reading the repository's configs, and finding where a piece of text
// sits (line:column) by scanning the text directly, so that expected positions do not come from the
// JSON parser under test.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "tandem/config.hpp"

namespace tandem::test {

inline std::filesystem::path repo_path(const std::string& relative) {
  return std::filesystem::path(TANDEM_TEST_SOURCE_DIR) / relative;
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// 1-based line:column of the `occurrence`-th (1-based) occurrence of `needle` in `text`.
inline json::Position position_of(const std::string& text, const std::string& needle, int occurrence = 1) {
  size_t at = std::string::npos;
  for (int i = 0; i < occurrence; ++i) {
    at = text.find(needle, at == std::string::npos ? 0 : at + 1);
    if (at == std::string::npos) {
      ADD_FAILURE() << "\"" << needle << "\" occurs fewer than " << occurrence << " times";
      return {};
    }
  }
  json::Position p{1, 1};
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

inline std::string line_col(json::Position p) { return std::to_string(p.line) + ":" + std::to_string(p.column); }

// Runs `f`, which must throw ConfigError, and returns the error.
inline ConfigError config_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ConfigError";
  return ConfigError("<none>", {}, "", "no error was thrown");
}

// The issue whose path is `path`, or a failure.
inline const ConfigIssue* issue_at(const std::vector<ConfigIssue>& issues, const std::string& path) {
  for (const ConfigIssue& i : issues)
    if (i.path == path) return &i;
  ADD_FAILURE() << "no issue at \"" << path << "\"";
  return nullptr;
}

}  // namespace tandem::test
