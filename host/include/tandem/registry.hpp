// The module registry: scans module directories, reads each module's descriptor through Boost.DLL,
// refuses what it must (with the file and the reason) while every other module still loads, and maps
// (kind, canonical name) to a loaded module. Loading is not activation: an instance is created only
// when a config selects the module (create()).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tandem/abi.h"
#include "tandem/json.hpp"

namespace tandem {

enum class ModuleKind : uint32_t {
  Stage = TANDEM_KIND_STAGE,
  Optimizer = TANDEM_KIND_OPTIMIZER,
  Scheduler = TANDEM_KIND_SCHEDULER,
  Comm = TANDEM_KIND_COMM,
  Model = TANDEM_KIND_MODEL,
};

// "stage", "optimizer", "scheduler", "comm", "model".
std::string_view kind_name(ModuleKind kind);
std::optional<ModuleKind> parse_kind(std::string_view name);  // accepts the names above

// Names are matched case-insensitively, ignoring '_' and '-': "WarmupLR", "warmup_lr" and
// "warmup-lr" are one name, "warmuplr".
std::string canonical_module_name(std::string_view name);

// A loaded library. Shared by the registry entry and every instance made from it, so that the .so
// stays mapped until the last instance is destroyed.
class LoadedLibrary;

struct ModuleInfo {
  ModuleKind kind;
  std::string name;     // as the module spells it
  std::string version;  // the module's own version
  std::string summary;
  uint16_t abi_major = 0;
  uint16_t abi_minor = 0;
  std::filesystem::path file;
  const tandem_module_descriptor* descriptor = nullptr;  // valid while the registry lives
  std::shared_ptr<LoadedLibrary> library;
};

// A file that was not loaded, and why. The reason names what was found and what was expected,
// e.g. "ABI major version 2, this host supports 1 (tandem ABI 1.0)".
struct Refusal {
  std::filesystem::path file;
  std::string reason;
};

// An instance of a module, destroyed (descriptor->destroy) when the last owner lets go.
class ModuleInstance {
 public:
  ModuleInstance(std::shared_ptr<LoadedLibrary> library, const tandem_module_descriptor* descriptor,
                 void* handle, std::string label, std::filesystem::path file);
  ~ModuleInstance();
  ModuleInstance(const ModuleInstance&) = delete;
  ModuleInstance& operator=(const ModuleInstance&) = delete;

  void* handle() const { return handle_; }
  const tandem_module_descriptor& descriptor() const { return *descriptor_; }
  // The kind's function table; its struct_size has been checked against T at creation.
  template <class T>
  const T& vtable() const {
    return *static_cast<const T*>(descriptor_->vtable);
  }
  const std::string& label() const { return label_; }  // e.g. "student.scheduler"
  const std::filesystem::path& file() const { return file_; }

 private:
  std::shared_ptr<LoadedLibrary> library_;
  const tandem_module_descriptor* descriptor_;
  void* handle_;
  std::string label_;
  std::filesystem::path file_;
};

// Thrown when a module cannot be found, its parameters do not validate, or its factory fails. The
// message names the module, its file, the JSON source and path with line:column where relevant.
class ModuleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ModuleRegistry {
 public:
  ModuleRegistry();
  ~ModuleRegistry();
  ModuleRegistry(const ModuleRegistry&) = delete;
  ModuleRegistry& operator=(const ModuleRegistry&) = delete;

  // The directories scanned by default, in order: the module directory next to libtandem (the build
  // tree's or the installed one's lib/tandem/modules), then each entry of TANDEM_MODULE_PATH
  // (':'-separated), then `extra` (the CLI's --module-path). Missing directories are skipped.
  static std::vector<std::filesystem::path> default_search_path(
      const std::vector<std::filesystem::path>& extra = {});

  // Scans each directory (non-recursively) for files named libtandem-*.so and reads their
  // descriptors. A directory that does not exist is skipped; one that others can write to is a
  // refusal. May be called more than once; modules already known are kept.
  void scan(const std::vector<std::filesystem::path>& directories);
  // Loads one file (a path given explicitly); the result lands in modules() or refusals().
  void load_file(const std::filesystem::path& file);

  // Loaded modules, sorted by (kind, name); refused files, in scan order.
  const std::vector<ModuleInfo>& modules() const { return modules_; }
  const std::vector<Refusal>& refusals() const { return refusals_; }

  // nullptr if absent.
  const ModuleInfo* find(ModuleKind kind, std::string_view name) const;
  // Throws ModuleError naming the kind and listing the names available for it (and mentioning a
  // refused file that would have provided it, if any).
  const ModuleInfo& get(ModuleKind kind, std::string_view name) const;

  // Validates `params` (a JSON object, or null for "no params") against the module's schema, fills
  // defaults, and calls the module's factory. `source` names the config text for messages; `label`
  // names the instance ("student.scheduler"). Throws ModuleError with the JSON path and line:column
  // of the offending value, or the file and the factory's reason.
  std::shared_ptr<ModuleInstance> create(const ModuleInfo& module, const json::Value* params,
                                         const std::string& source, const std::string& label) const;

 private:
  std::vector<ModuleInfo> modules_;
  std::vector<Refusal> refusals_;
};

}  // namespace tandem
