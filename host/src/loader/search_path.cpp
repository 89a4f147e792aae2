// ModuleRegistry::default_search_path(): where modules are looked for when nobody says otherwise;
// module_probe_location(): where the probe program is, found the same way.
#include <boost/dll/runtime_symbol_info.hpp>
#include <cstdlib>
#include <string_view>

#include "loader/module_probe.hpp"
#include "tandem/registry.hpp"

#ifndef TANDEM_MODULE_SUBDIR
#error "host/CMakeLists.txt defines TANDEM_MODULE_SUBDIR (the module directory relative to libtandem's)"
#endif
#ifndef TANDEM_PROBE_SUBPATH
#error "host/CMakeLists.txt defines TANDEM_PROBE_SUBPATH (tandem-module-probe relative to libtandem's directory)"
#endif

namespace tandem {

namespace {

// A function with internal linkage: its address is certainly inside libtandem, so the file it is
// found in is libtandem itself. (boost::dll::this_line_location() does the same through an inline
// function, which another copy in the executable could interpose.)
void locate_libtandem() {}

std::filesystem::path libtandem_location() {
  std::error_code ec;
  std::filesystem::path here = boost::dll::symbol_location_ptr(&locate_libtandem, ec);
  if (ec) return {};
  return here;
}

}  // namespace

namespace loader {

std::filesystem::path module_probe_location() {
  const std::filesystem::path lib = libtandem_location();
  if (lib.empty()) return "tandem-module-probe";  // not found: the spawn's error then names it
  return lib.parent_path() / TANDEM_PROBE_SUBPATH;
}

}  // namespace loader

std::vector<std::filesystem::path> ModuleRegistry::default_search_path(const std::vector<std::filesystem::path>& extra) {
  std::vector<std::filesystem::path> out;
  std::vector<std::filesystem::path> keys;  // canonical forms, for "the same directory once"
  auto add = [&](const std::filesystem::path& dir) {
    if (dir.empty()) return;
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(dir, ec);
    if (ec) absolute = dir;
    absolute = absolute.lexically_normal();
    if (absolute.has_relative_path() && absolute.filename().empty()) absolute = absolute.parent_path();  // "a/" is "a"
    std::filesystem::path key = std::filesystem::weakly_canonical(absolute, ec);
    if (ec) key = absolute;
    for (const auto& k : keys)
      if (k == key) return;
    keys.push_back(key);
    out.push_back(absolute);
  };

  // The build tree and an installed tree share one layout: lib/libtandem.so beside lib/tandem/modules.
  if (const std::filesystem::path lib = libtandem_location(); !lib.empty())
    add(lib.parent_path() / TANDEM_MODULE_SUBDIR);
  if (const char* env = std::getenv("TANDEM_MODULE_PATH"); env != nullptr) {
    std::string_view rest = env;
    while (!rest.empty()) {
      const size_t colon = rest.find(':');
      add(std::filesystem::path(rest.substr(0, colon)));
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  for (const auto& dir : extra) add(dir);
  return out;
}

}  // namespace tandem
