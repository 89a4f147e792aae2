// Kind names, canonical module names, and the libtandem-<kind>-<name>.so file-name convention.
#include "loader/module_names.hpp"

#include <array>
#include <cctype>
#include <utility>

namespace tandem {

namespace {
constexpr std::array<std::pair<ModuleKind, std::string_view>, 5> kKindNames{{
    {ModuleKind::Stage, "stage"},
    {ModuleKind::Optimizer, "optimizer"},
    {ModuleKind::Scheduler, "scheduler"},
    {ModuleKind::Comm, "comm"},
    {ModuleKind::Model, "model"},
}};

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
}  // namespace

std::string_view kind_name(ModuleKind kind) {
  for (const auto& [k, name] : kKindNames)
    if (k == kind) return name;
  return "unknown";
}

std::optional<ModuleKind> parse_kind(std::string_view name) {
  for (const auto& [k, kname] : kKindNames) {
    if (kname.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) same = lower(name[i]) == kname[i];
    if (same) return k;
  }
  return std::nullopt;
}

std::string canonical_module_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name)
    if (c != '_' && c != '-') out.push_back(lower(c));
  return out;
}

namespace loader {

bool is_module_file_name(std::string_view file_name) {
  return file_name.size() > kModuleFilePrefix.size() + kModuleFileSuffix.size() &&
         file_name.starts_with(kModuleFilePrefix) && file_name.ends_with(kModuleFileSuffix);
}

std::optional<ModuleFileName> parse_module_file_name(std::string_view file_name) {
  if (!is_module_file_name(file_name)) return std::nullopt;
  std::string_view stem = file_name.substr(kModuleFilePrefix.size());
  stem.remove_suffix(kModuleFileSuffix.size());
  const size_t dash = stem.find('-');
  if (dash == std::string_view::npos || dash + 1 == stem.size()) return std::nullopt;
  // The kind is spelled exactly (lower case) on disk: tandem_add_module writes it so.
  const std::string_view kind_text = stem.substr(0, dash);
  for (const auto& [k, kname] : kKindNames)
    if (kname == kind_text) return ModuleFileName{k, std::string(stem.substr(dash + 1))};
  return std::nullopt;
}

}  // namespace loader
}  // namespace tandem
