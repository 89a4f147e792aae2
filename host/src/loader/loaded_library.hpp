// One module file opened with Boost.DLL. Shared (shared_ptr) by the registry entry and every instance
// made from it: the last owner to let go unloads it (dlclose), except a module with CUDA code, which
// stays loaded until the process ends (loaded_library.cpp says why).
#pragma once

#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "tandem/abi.h"

namespace tandem {

class LoadedLibrary {
 public:
  // Checks the file's ELF headers, then opens it with RTLD_NOW | RTLD_LOCAL: every symbol is bound
  // now, so an unresolved one is a load error here rather than a process killed by the dynamic
  // linker at the first call (lazy binding's behaviour); local, so that modules never resolve each
  // other's symbols. On failure returns nullptr and sets `reason`, e.g. "cannot be loaded: not a
  // shared object (invalid ELF header)" or "cannot be loaded: undefined symbol: foo".
  static std::shared_ptr<LoadedLibrary> open(const std::filesystem::path& file, std::string& reason);

  // Calls the module's entry point (TANDEM_MODULE_ENTRY_SYMBOL) and returns what it returns, which
  // may be null or anything else: validate it. If there is no entry point, returns nullptr and sets
  // `reason`.
  const tandem_module_descriptor* call_entry_point(std::string& reason) const;

  const std::filesystem::path& file() const { return file_; }

  LoadedLibrary(const LoadedLibrary&) = delete;
  LoadedLibrary& operator=(const LoadedLibrary&) = delete;
  ~LoadedLibrary() = default;

 private:
  LoadedLibrary() = default;
  boost::dll::shared_library library_;
  std::filesystem::path file_;
};

}  // namespace tandem
