// An instance of a module linked into a test in its static form (tandem_module_descriptor_<name>(),
// from the tandem-<kind>-<name>-static library), created the way the host creates one: the params,
// given as JSON text, are validated against the module's schema and completed with its defaults by
// the host's own binding (host/src/loader/param_binding.hpp; the test needs host/src on its include
// path), then the descriptor's create() is called.
//
//   tandem::test::StaticInstance comm(tandem_module_descriptor_local(), R"({"world_size": 3})");
//   const auto& vt = comm.vtable<tandem_comm_vtable>();
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "loader/param_binding.hpp"
#include "tandem/abi.h"
#include "tandem/call.hpp"
#include "tandem/json.hpp"
#include "tandem/registry.hpp"

namespace tandem::test {

// Why create() failed.
struct CreateFailure : std::runtime_error {
  CreateFailure(tandem_status s, const std::string& message)
      : std::runtime_error(std::string("create failed (") + sdk::status_name(s) + "): " + message),
        status(s),
        reason(message) {}
  tandem_status status;
  std::string reason;  // the module's message
};

class StaticInstance {
 public:
  // Throws tandem::ModuleError for params the schema refuses (as the host would, with the JSON path),
  // and CreateFailure when the module's create() refuses them.
  StaticInstance(const tandem_module_descriptor* descriptor, std::string_view params_json,
                 const std::string& label = "test")
      : descriptor_(descriptor) {
    const json::Document doc = json::parse(params_json, "<test params>");
    const loader::BoundParams bound =
        loader::bind_params(*descriptor, &doc.root, doc.source, std::string("module ") + descriptor->name);
    tandem_create_args args{};
    args.struct_size = sizeof(args);
    args.host_abi_major = TANDEM_ABI_MAJOR;
    args.host_abi_minor = TANDEM_ABI_MINOR;
    args.params = bound.data();
    args.param_count = bound.size();
    args.instance_name = label.c_str();
    sdk::ErrorBuffer err;
    const tandem_status status = descriptor->create(&args, &handle_, err.get());
    if (status != TANDEM_STATUS_OK) throw CreateFailure(status, err.message());
  }
  ~StaticInstance() {
    if (handle_ != nullptr) descriptor_->destroy(handle_);
  }
  StaticInstance(const StaticInstance&) = delete;
  StaticInstance& operator=(const StaticInstance&) = delete;

  void* handle() const { return handle_; }
  const tandem_module_descriptor& descriptor() const { return *descriptor_; }
  template <class T>
  const T* vtable() const {
    return static_cast<const T*>(descriptor_->vtable);
  }

 private:
  const tandem_module_descriptor* descriptor_;
  void* handle_ = nullptr;
};

}  // namespace tandem::test
