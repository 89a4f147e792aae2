// The module files whose probe succeeded, remembered across processes, so that an unchanged file is
// not loaded again in a fresh probe by every command (the gpt module built with CUDA loads cuBLASLt,
// about 0.7 s of a process start; the test suite starts tandem and makes registries hundreds of times).
//
// Only successes are kept: a file that crashed, exited, hung or was refused is probed again each time
// (its fix must show at once, and a time limit missed on a busy machine is not a property of the
// file). A file is the same file while its canonical path, device, inode, size, modification and
// status-change times are: rebuilding, copying over, touching, chmod or chown make it new.
//
// Where: $XDG_CACHE_HOME/tandem/module-probes-v1.tsv, else $HOME/.cache/tandem/; none where
// neither is set or TANDEM_MODULE_PROBE_CACHE=off. Entries for files gone or changed are dropped
// when the cache is written. A cache directory or file that others can write
// (file_trust.hpp's rule) is neither read nor written. Written to a temporary and renamed, so that
// concurrent commands never read half a file; a line that does not parse is ignored.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loader/module_probe.hpp"

namespace tandem::loader {

class ProbeCache {
 public:
  // Reads the cache file, if there is a trusted one.
  ProbeCache();

  // What an earlier successful probe read from `file`, if the file is still the same.
  std::optional<ProbedModule> find(const std::filesystem::path& file) const;
  // Remembers a successful probe of `file` (nothing is written until save()).
  void remember(const std::filesystem::path& file, const ProbedModule& module);
  // Writes the cache if remember() added anything; errors are ignored (it is a cache).
  void save() const;

 private:
  struct Entry {
    std::string identity;  // dev, inode, size, mtime, ctime
    ProbedModule module;
  };
  std::filesystem::path file_;  // empty: no cache
  std::map<std::string, Entry> entries_;  // canonical path -> entry
  bool changed_ = false;
};

}  // namespace tandem::loader
