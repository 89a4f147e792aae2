// A look at a file's ELF headers before dlopen sees it. dlopen maps a truncated shared object without
// complaint and the process then dies of SIGBUS when the loader touches a page past the end of the
// file (checked on glibc 2.36: a module cut anywhere past its first 64 bytes). A file that is not a
// shared object for this machine is also named here more plainly than dlerror() does.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace tandem::loader {

// nullopt if `file` is an ELF shared object for this machine whose program headers and loadable
// segments all lie within the file; otherwise why not, e.g. "not a shared object (invalid ELF
// header)" or "the file is truncated: ...". dlopen may still refuse the file for other reasons.
std::optional<std::string> check_elf_file(const std::filesystem::path& file);

}  // namespace tandem::loader
