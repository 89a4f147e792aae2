// The module registry: scans module directories, reads each module's descriptor through Boost.DLL,
// refuses what it must (with the file and the reason) while every other module still loads, and maps
// (kind, canonical name) to a loaded module. Loading is not activation: an instance is created only
// when a config selects the module (create()).
//
// A file is refused, with its path and the reason, when: others can write it or its directory
// (loader/file_trust.hpp says why); it is not a loadable shared object for this machine (not ELF,
// truncated, an undefined symbol under RTLD_NOW); it has no entry point; its descriptor is null, too
// small, of another ABI major or a newer minor (both versions named), or otherwise malformed
// (loader/descriptor_validation.hpp); its file name libtandem-<kind>-<name>.so says something else
// than its descriptor; or another file provides the same (kind, name) (all such files are refused,
// each naming the others); or reading its descriptor crashed, exited or hung the probe process
// (loader/module_probe.hpp: descriptors are read in a child process, so that a scan runs no module's
// code in this one). Every other module still loads. A module is opened in this process only when a
// command uses it (open(), create()). A factory that fails is a ModuleError from
// create() naming the module, its file, the status and the module's message.
#pragma once

#include <cstdint>
#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
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
// A module's library and descriptor once it is opened in this process (ModuleRegistry::open).
struct ModuleLoad;

struct ModuleInfo {
  ModuleKind kind;
  std::string name;            // as the module spells it
  std::string canonical_name;  // canonical_module_name(name): the registry's key with kind
  std::string version;  // the module's own version
  std::string summary;
  uint16_t abi_major = 0;
  uint16_t abi_minor = 0;
  std::filesystem::path file;
  // Empty until ModuleRegistry::open() opens the file in this process (a scan only probes it in a
  // child process: loader/module_probe.hpp); then the library and its descriptor.
  std::shared_ptr<ModuleLoad> load;
};

// A file that was not loaded, and why. The reason names what was found and what was expected,
// e.g. "ABI major version 2, this host supports 1 (tandem ABI 1.0)".
struct Refusal {
  std::filesystem::path file;  // as found (a symlink is named as such, not by its target)
  std::string reason;
  // What the file would have provided, where known (from its descriptor, else from a file name of
  // the form libtandem-<kind>-<name>.so), so that get() can point at it when the name is asked for.
  std::optional<ModuleKind> kind;
  std::string name;
  // Loading the file killed the probe process, ended it (exit) or ran out of time: a module that
  // would have taken the command down. Commands warn about these even when nobody selects them.
  bool died_loading = false;

  // One line for a user: "refused module file '<file>': <reason>".
  std::string message() const;
};

// An instance of a module, destroyed (descriptor->destroy) when the last owner lets go. It keeps its
// library loaded: an instance may outlive the registry that made it.
class ModuleInstance {
 public:
  ModuleInstance(std::shared_ptr<LoadedLibrary> library, const tandem_module_descriptor* descriptor,
                 void* handle, std::string label, std::filesystem::path file);
  ~ModuleInstance();
  ModuleInstance(const ModuleInstance&) = delete;
  ModuleInstance& operator=(const ModuleInstance&) = delete;

  void* handle() const { return handle_; }
  const tandem_module_descriptor& descriptor() const { return *descriptor_; }
  ModuleKind kind() const { return static_cast<ModuleKind>(descriptor_->kind); }
  const char* module_name() const { return descriptor_->name; }
  // The kind's function table (e.g. tandem_scheduler_vtable). Its struct_size was checked at load
  // against the kind's ABI 1.0 table, so every 1.0 entry is there and non-null.
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
  // Size of the buffer a factory may write its failure message into (tandem_error.capacity).
  static constexpr size_t kFactoryErrorCapacity = 1024;

  ModuleRegistry();
  // Releases every library no instance still holds (dlclose): a clean unload at exit.
  ~ModuleRegistry();
  ModuleRegistry(const ModuleRegistry&) = delete;
  ModuleRegistry& operator=(const ModuleRegistry&) = delete;

  // The directories scanned by default, in order: the module directory next to libtandem (the build
  // tree's or the installed one's lib/tandem/modules), then each entry of TANDEM_MODULE_PATH
  // (':'-separated; empty entries ignored; relative entries made absolute), then `extra` (the CLI's
  // --module-path). A directory named twice (same canonical path) is kept at its first place only.
  // Directories that do not exist stay in the list (so that a CLI can show them); scan() skips them.
  static std::vector<std::filesystem::path> default_search_path(
      const std::vector<std::filesystem::path>& extra = {});

  // Scans each directory (non-recursively, files in name order) for files named libtandem-*.so and
  // reads their descriptors in a probe process (TANDEM_MODULE_LOAD_TIMEOUT seconds per file, default
  // 20; a value that is not a positive number is a ModuleError); nothing is loaded here nor created. A directory that does not exist is skipped; one
  // that others can write to is a refusal and none of its files is loaded. May be called more than
  // once: a file already seen (same canonical path, loaded or refused) is not read again, and a
  // module that a later scan finds a second copy of is refused with that copy (both named).
  void scan(const std::vector<std::filesystem::path>& directories);
  // Loads one file given explicitly (any file name; a name of the form libtandem-<kind>-<name>.so
  // must agree with the descriptor). The result lands in modules() or refusals().
  void load_file(const std::filesystem::path& file);

  // Loaded modules, sorted by (kind, canonical name); refused files, in the order met.
  // scan() and load_file() invalidate references into modules(), and pointers from find()/get().
  const std::vector<ModuleInfo>& modules() const { return modules_; }
  const std::vector<Refusal>& refusals() const { return refusals_; }
  // The directories scan() was asked to read, in order, as given.
  const std::vector<std::filesystem::path>& scanned_directories() const { return scanned_; }

  // Matches canonical names (WarmupLR == warmup_lr == warmup-lr). nullptr if absent.
  const ModuleInfo* find(ModuleKind kind, std::string_view name) const;
  // Throws ModuleError naming the kind and listing the names available for it (and mentioning a
  // refused file that would have provided it, if any).
  const ModuleInfo& get(ModuleKind kind, std::string_view name) const;

  // Opens the module in this process, once (ELF check, dlopen, entry point, descriptor validated again
  // and compared with what the scan read); later calls return the same descriptor, valid while the
  // registry lives. Throws ModuleError naming the file if it cannot be opened or now says otherwise.
  // Thread-safe.
  const tandem_module_descriptor& open(const ModuleInfo& module) const;

  // Validates `params` (a JSON object, or null for "no params") against the module's schema, fills
  // defaults, and calls the module's factory (opening the module first). `source` names the config text for messages; `label`
  // names the instance ("student.scheduler"). Throws ModuleError with the JSON path and line:column
  // of the offending value, or the file and the factory's status and reason.
  std::shared_ptr<ModuleInstance> create(const ModuleInfo& module, const json::Value* params,
                                         const std::string& source, const std::string& label) const;

 private:
  struct Candidate;
  void load_batch(const std::vector<std::filesystem::path>& files);

  std::vector<ModuleInfo> modules_;
  std::vector<Refusal> refusals_;
  std::vector<std::filesystem::path> scanned_;
  std::vector<std::filesystem::path> seen_files_;  // canonical paths already read
  // (kind, canonical name) -> every file that claimed it when more than one did; all are refused,
  // and so is any later file claiming it.
  struct Contested {
    ModuleKind kind;
    std::string canonical_name;
    std::vector<std::filesystem::path> files;
  };
  std::vector<Contested> contested_;
};

// Writes "tandem: warning: <refusal>" to `out` for each file whose load killed, ended or hung the
// probe (Refusal::died_loading): a command that does not select them works, and still says so.
void warn_about_modules_that_died_loading(const ModuleRegistry& registry, std::ostream& out);

}  // namespace tandem
