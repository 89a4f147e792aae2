// ModuleInstance: an instance handle plus the library it came from, released in that order.
#include "loader/loaded_library.hpp"
#include "tandem/registry.hpp"

namespace tandem {

ModuleInstance::ModuleInstance(std::shared_ptr<LoadedLibrary> library, const tandem_module_descriptor* descriptor,
                               void* handle, std::string label, std::filesystem::path file)
    : library_(std::move(library)),
      descriptor_(descriptor),
      handle_(handle),
      label_(std::move(label)),
      file_(std::move(file)) {}

ModuleInstance::~ModuleInstance() {
  // destroy() lives in the library, so it runs before library_ (a member) lets the library go.
  if (handle_ != nullptr && descriptor_ != nullptr && descriptor_->destroy != nullptr) descriptor_->destroy(handle_);
}

}  // namespace tandem
