// Names on disk: a module file is named libtandem-<kind>-<name>.so (STYLE.md 7, as ggml's
// libggml-<name>.so), so that a directory listing says what each file is.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tandem/registry.hpp"

namespace tandem::loader {

inline constexpr std::string_view kModuleFilePrefix = "libtandem-";
inline constexpr std::string_view kModuleFileSuffix = ".so";

// True for names a directory scan reads: libtandem-*.so.
bool is_module_file_name(std::string_view file_name);

struct ModuleFileName {
  ModuleKind kind;
  std::string name;  // as spelled in the file name
};
// Splits libtandem-<kind>-<name>.so; nullopt if the name does not have that form or the kind is
// not one of the five.
std::optional<ModuleFileName> parse_module_file_name(std::string_view file_name);

}  // namespace tandem::loader
