// Helpers shared by the loader tests: private temp directories (mkdtemp, mode 0700) into which a test
// copies exactly the fixture modules its scenario needs, with the permissions it sets.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/registry.hpp"

namespace loader_test {

namespace fs = std::filesystem;

// A built fixture: libtandem-scheduler-<name>.so in the fixture directory.
inline fs::path fixture(const std::string& name) {
  return fs::path(LOADER_FIXTURE_DIR) / ("libtandem-scheduler-" + name + ".so");
}
// The real WarmupLR module from the build's module directory.
inline fs::path warmup_lr_module() {
  return fs::path(TANDEM_TEST_MODULE_DIR) / "libtandem-scheduler-warmup_lr.so";
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tandem-loader-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

  // A fresh subdirectory with mode 0700.
  fs::path subdir(const std::string& name) const {
    const fs::path dir = path_ / name;
    fs::create_directory(dir);
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
    return dir;
  }

  // Copies `source` into `dir` (default: the temp dir itself) under `name` (default: its own), with `mode`.
  fs::path add(const fs::path& source, const std::string& name = {}, const fs::path& dir = {},
               fs::perms mode = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec) const {
    const fs::path target = (dir.empty() ? path_ : dir) / (name.empty() ? source.filename() : fs::path(name));
    fs::copy_file(source, target, fs::copy_options::overwrite_existing);
    fs::permissions(target, mode, fs::perm_options::replace);
    return target;
  }

  // Writes `text` into a new file `name` with mode 0644.
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path target = path_ / name;
    std::ofstream(target, std::ios::binary) << text;
    fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read,
                    fs::perm_options::replace);
    return target;
  }

 private:
  fs::path path_;
};

// The refusal recorded for `file`, or nullptr.
inline const tandem::Refusal* refusal_for(const tandem::ModuleRegistry& registry, const fs::path& file) {
  for (const tandem::Refusal& r : registry.refusals())
    if (r.file == file) return &r;
  return nullptr;
}

// The loaded modules as "kind/name", in registry order.
inline std::vector<std::string> loaded(const tandem::ModuleRegistry& registry) {
  std::vector<std::string> out;
  for (const tandem::ModuleInfo& m : registry.modules()) out.push_back(std::string(tandem::kind_name(m.kind)) + "/" + m.name);
  return out;
}

// Everything the registry refused, one message per line, for failure output.
inline std::string all_refusals(const tandem::ModuleRegistry& registry) {
  std::string out;
  for (const tandem::Refusal& r : registry.refusals()) out += r.message() + "\n";
  return out;
}

// Sets an environment variable for one test, and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// True if the dynamic linker has `file` mapped into this process.
inline bool is_mapped(const fs::path& file) {
  std::ifstream maps("/proc/self/maps");
  const std::string needle = fs::weakly_canonical(file).string();
  std::string line;
  while (std::getline(maps, line))
    if (line.size() >= needle.size() && line.compare(line.size() - needle.size(), needle.size(), needle) == 0) return true;
  return false;
}

}  // namespace loader_test
