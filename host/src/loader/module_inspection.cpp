// inspect_module_file(): the steps the probe program runs on each file, in the order the registry
// ran them in-process before modules were probed: open, entry point, descriptor.
#include "loader/descriptor_validation.hpp"
#include "loader/loaded_library.hpp"
#include "loader/module_probe.hpp"

#include <dlfcn.h>

namespace tandem::loader {

ProbeOutcome inspect_module_file(const std::filesystem::path& file, std::shared_ptr<LoadedLibrary>& library_out) {
  ProbeOutcome out;
  std::string reason;
  std::shared_ptr<LoadedLibrary> library = LoadedLibrary::open(file, reason);
  if (!library) {
    out.refusal = reason;
    return out;
  }
  const tandem_module_descriptor* descriptor = library->call_entry_point(reason);
  if (!reason.empty()) {
    out.refusal = reason;
    return out;
  }
  if (auto bad = validate_descriptor(descriptor)) {
    out.refusal = *bad;
    return out;
  }
  ProbedModule m;
  m.kind = static_cast<ModuleKind>(descriptor->kind);
  m.name = descriptor->name;
  m.version = descriptor->version;
  m.summary = descriptor->summary;
  m.abi_major = descriptor->abi_major;
  m.abi_minor = descriptor->abi_minor;
  out.module = std::move(m);
  library_out = std::move(library);
  return out;
}

bool is_loaded_in_this_process(const std::filesystem::path& file) {
  void* handle = ::dlopen(std::filesystem::absolute(file).c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  ::dlclose(handle);  // drops the reference RTLD_NOLOAD took
  return true;
}

}  // namespace tandem::loader
