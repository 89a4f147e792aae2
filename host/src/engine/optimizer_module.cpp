#include "engine/optimizer_module.hpp"

#include "tandem/registry.hpp"

namespace tandem {

std::string optimizer_module_name(std::string_view config_type) {
  const std::string name = canonical_module_name(config_type);
  return name == "adam" ? "adamw" : name;
}

}  // namespace tandem
