// PluginSet: named DeepSpeed configs in the order given, with errors that list the known names.
#include "tandem/accelerator.hpp"

#include "runtime/plugin_rules.hpp"

namespace tandem {

namespace {

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "\"" : ", \"") + n + "\"";
  return out.empty() ? "(none)" : out;
}

}  // namespace

DeepSpeedPlugin::DeepSpeedPlugin(DeepSpeedConfig config) : config_(plugin_rules::adopt(std::move(config))) {}

void DeepSpeedPlugin::set_config(DeepSpeedConfig config) { config_ = plugin_rules::adopt(std::move(config)); }

PluginSet::PluginSet(std::initializer_list<std::pair<std::string, DeepSpeedPlugin>> plugins) {
  for (const auto& [name, plugin] : plugins) add(name, plugin);
}

void PluginSet::add(std::string name, DeepSpeedPlugin plugin) {
  if (name.empty()) throw PluginError("a DeepSpeed plugin needs a non-empty name");
  if (contains(name))
    throw PluginError("two DeepSpeed plugins are named \"" + name + "\"; each name must be unique");
  entries_.emplace_back(std::move(name), std::move(plugin));
}

std::vector<std::string> PluginSet::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& entry : entries_) out.push_back(entry.first);
  return out;
}

bool PluginSet::contains(std::string_view name) const {
  for (const auto& entry : entries_)
    if (entry.first == name) return true;
  return false;
}

const DeepSpeedPlugin& PluginSet::at(std::string_view name) const {
  for (const auto& entry : entries_)
    if (entry.first == name) return entry.second;
  throw PluginError("no DeepSpeed plugin named \"" + std::string(name) + "\"; the plugins are " +
                    join_names(names()));
}

DeepSpeedPlugin& PluginSet::at(std::string_view name) {
  return const_cast<DeepSpeedPlugin&>(static_cast<const PluginSet*>(this)->at(name));
}

const std::string& PluginSet::first_name() const {
  if (entries_.empty()) throw PluginError("the set of DeepSpeed plugins is empty");
  return entries_.front().first;
}

}  // namespace tandem
