// LoadedLibrary: Boost.DLL underneath, dlerror() text turned into a reason a user can act on.
#include "loader/loaded_library.hpp"

#include <system_error>
#include <type_traits>

#include <dlfcn.h>

#include "loader/cuda_code.hpp"
#include "loader/elf_check.hpp"

namespace tandem {

namespace {

// Boost.DLL's message reads "boost::dll::shared_library::load() failed (dlerror system message:
// <path>: <text>): <errno text>"; keep <text>, phrased for a user.
std::string readable_load_error(const std::string& what, const std::filesystem::path& file) {
  constexpr std::string_view marker = "dlerror system message: ";
  std::string text = what;
  if (const size_t at = text.find(marker); at != std::string::npos) {
    text = text.substr(at + marker.size());
    if (const size_t end = text.rfind("): "); end != std::string::npos) text.resize(end);
    const std::string prefix = file.string() + ": ";
    if (text.starts_with(prefix)) text = text.substr(prefix.size());
  }
  if (text.find("invalid ELF header") != std::string::npos) return "not a shared object (invalid ELF header)";
  if (text.find("file too short") != std::string::npos) return "not a shared object (file too short)";
  if (const size_t at = text.find("undefined symbol: "); at != std::string::npos)
    return text.substr(at) + " (the module needs a symbol that neither it nor the libraries it links provide)";
  return text;
}

}  // namespace

std::shared_ptr<LoadedLibrary> LoadedLibrary::open(const std::filesystem::path& file, std::string& reason) {
  if (auto bad = loader::check_elf_file(file)) {
    reason = "cannot be loaded: " + *bad;
    return nullptr;
  }
  std::shared_ptr<LoadedLibrary> loaded(new LoadedLibrary());
  loaded->file_ = file;
  try {
    namespace mode = boost::dll::load_mode;
    // An absolute path: Boost.DLL puts "./" before a bare file name, which would resolve against the
    // working directory.
    loaded->library_.load(std::filesystem::absolute(file), mode::rtld_now | mode::rtld_local);
  } catch (const std::system_error& e) {
    reason = "cannot be loaded: " + readable_load_error(e.what(), std::filesystem::absolute(file));
    return nullptr;
  }
  // A module with CUDA code stays loaded for the rest of the process: the CUDA runtime registers its
  // kernels when it loads and does not survive it being unloaded and loaded again (on an H100, the
  // gpt module loaded for a CPU run, unloaded, then loaded for a GPU run: its first launch hung in
  // __cudaGetKernel, or failed with cudaErrorInvalidValue). RTLD_NOLOAD | RTLD_NODELETE marks the
  // loaded object without loading anything; the extra reference is dropped at once.
  if (loader::carries_cuda_code(file))
    if (void* pinned = ::dlopen(std::filesystem::absolute(file).c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE))
      ::dlclose(pinned);
  return loaded;
}

const tandem_module_descriptor* LoadedLibrary::call_entry_point(std::string& reason) const {
  if (!library_.has(TANDEM_MODULE_ENTRY_SYMBOL)) {
    reason = std::string("no entry point: the file does not export '") + TANDEM_MODULE_ENTRY_SYMBOL +
             "' (a module defines it with its kind's registration macro, e.g. TANDEM_SCHEDULER_MODULE)";
    return nullptr;
  }
  // get<> of a function type (not of a function-pointer type, which Boost.DLL would read as a
  // variable holding a pointer).
  using EntryFunction = std::remove_pointer_t<tandem_module_entry_fn>;
  try {
    EntryFunction& entry = library_.get<EntryFunction>(TANDEM_MODULE_ENTRY_SYMBOL);
    return entry();
  } catch (const std::exception& e) {
    reason = std::string("the entry point failed: ") + e.what();
  } catch (...) {
    reason = "the entry point threw an exception across the C boundary";
  }
  return nullptr;
}

}  // namespace tandem
