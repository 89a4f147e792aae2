// A host optimizer presented as one that runs on the stand-in GPU (tandem/conformance/stand_in_device.hpp).
#include "tandem/conformance/stand_in_device.hpp"

namespace tandem::test {

StandInDeviceOptimizer::StandInDeviceOptimizer(void* instance, const tandem_optimizer_vtable* vtable)
    : inner_(instance), inner_vt_(vtable) {
  table_ = *vtable;
  table_.struct_size = sizeof(tandem_optimizer_vtable);
  table_.capabilities = [](const void* p) -> uint32_t {
    const StandInDeviceOptimizer& o = self(p);
    return o.inner_vt_->capabilities(o.inner_) | TANDEM_OPTIMIZER_RUNS_ON_DEVICE;
  };
  table_.defaults = [](const void* p, tandem_optimizer_hparams* out, tandem_error* err) {
    return self(p).inner_vt_->defaults(self(p).inner_, out, err);
  };
  table_.init_state = [](void* p, size_t numel, tandem_error* err) {
    return self(p).inner_vt_->init_state(self(p).inner_, numel, err);
  };
  table_.step = [](void* p, const tandem_optimizer_step_args* args, tandem_error* err) {
    return self(p).inner_vt_->step(self(p).inner_, args, err);
  };
  table_.state_buffer_count = [](const void* p) { return self(p).inner_vt_->state_buffer_count(self(p).inner_); };
  table_.state_buffer = [](void* p, uint32_t i, const char** name, tandem_tensor_view* view, tandem_error* err) {
    return self(p).inner_vt_->state_buffer(self(p).inner_, i, name, view, err);
  };
  // The stand-in device's memory is host memory: the inner optimizer is placed on the host.
  table_.place = [](void* p, const tandem_placement* where, tandem_error* err) {
    tandem_placement host = *where;
    host.device = TANDEM_DEVICE_CPU;
    const StandInDeviceOptimizer& o = self(p);
    if (!TANDEM_HAS_FIELD(o.inner_vt_->struct_size, tandem_optimizer_vtable, place) || o.inner_vt_->place == nullptr)
      return TANDEM_STATUS_OK;
    return o.inner_vt_->place(o.inner_, &host, err);
  };
}

}  // namespace tandem::test
