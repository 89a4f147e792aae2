// DeepSpeedConfig::with: a validated copy of a config with one value set by dotted path.
#include <stdexcept>

#include "tandem/config.hpp"

namespace tandem {

DeepSpeedConfig DeepSpeedConfig::with(std::string_view dotted_path, json::Value value) const {
  if (dotted_path.empty()) throw std::invalid_argument("DeepSpeedConfig::with: an empty path");
  json::Value root = tree_;
  json::Value* parent = &root;
  std::string path;
  for (;;) {
    const size_t dot = dotted_path.find('.');
    const std::string key(dotted_path.substr(0, dot));
    if (key.empty()) throw std::invalid_argument("DeepSpeedConfig::with: an empty part in the path '" + path + "'");
    const std::string here = path.empty() ? key : path + "." + key;
    if (dot == std::string_view::npos) {
      if (const json::Value* old = parent->find(key)) value.set_position(old->position());
      json::assign_paths(value, here);
      parent->set(key, std::move(value));
      break;
    }
    json::Value* next = parent->find(key);
    if (next == nullptr || next->is_null()) {
      json::Value made = json::Value::object();
      made.set_path(here);
      next = &parent->set(key, std::move(made));
    } else if (!next->is_object()) {
      throw std::invalid_argument(json::where(document_.source, next->position()) + ": " + here + " is " +
                                  next->type_name() + ", not an object: cannot set " + here + "." +
                                  std::string(dotted_path.substr(dot + 1)) + " in it");
    }
    parent = next;
    path = here;
    dotted_path.remove_prefix(dot + 1);
  }
  return DeepSpeedConfig(json::Document{document_.source, std::move(root)});
}

}  // namespace tandem
