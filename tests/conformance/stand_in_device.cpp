// The stand-in GPU of the stage conformance suite (tandem/conformance/stand_in_device.hpp).
#include "tandem/conformance/stand_in_device.hpp"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tandem/memory.hpp"

namespace tandem::test {

StandInDevice::StandInDevice() {
  ops_ = *sdk::host_memory_ops();  // element operations on host memory: what this "device" holds
  ops_.ctx = this;
  ops_.where = tandem_placement{sizeof(tandem_placement), TANDEM_DEVICE_CUDA, 0, nullptr};
  ops_.allocate = &allocate;
  ops_.release = &release;
  ops_.copy_async = &copy_async;
  ops_.wait_copy = &wait_copy;
  ops_.join_copies = &join_copies;
}

StandInDevice::~StandInDevice() {
  for (auto& [p, bytes] : allocations_) std::free(const_cast<char*>(p));
}

bool StandInDevice::owns(const void* p, size_t bytes) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto* c = static_cast<const char*>(p);
  auto it = allocations_.upper_bound(c);
  if (it == allocations_.begin()) return false;
  --it;
  return c >= it->first && c + bytes <= it->first + it->second;
}

size_t StandInDevice::pending_copies() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

tandem_status StandInDevice::allocate(void* ctx, size_t bytes, void** out, tandem_error* err) {
  return sdk::guard(err, [&] {
    *out = nullptr;
    if (bytes == 0) return;
    *out = std::calloc(1, bytes);
    if (*out == nullptr) throw std::bad_alloc();
    const std::lock_guard<std::mutex> lock(self(ctx).mutex_);
    self(ctx).allocations_[static_cast<const char*>(*out)] = bytes;
  });
}

void StandInDevice::release(void* ctx, void* p) {
  if (p == nullptr) return;
  {
    const std::lock_guard<std::mutex> lock(self(ctx).mutex_);
    self(ctx).allocations_.erase(static_cast<const char*>(p));
  }
  std::free(p);
}

tandem_status StandInDevice::copy_async(void* ctx, void* dst, const void* src, size_t bytes, uint64_t* ticket,
                                        tandem_error* err) {
  return sdk::guard(err, [&] {
    StandInDevice& d = self(ctx);
    const std::lock_guard<std::mutex> lock(d.mutex_);
    std::memset(dst, 0xff, bytes);  // NaN until the copy runs
    d.queue_.push_back(Copy{dst, src, bytes});
    *ticket = d.first_ticket_ + d.queue_.size() - 1;
  });
}

void StandInDevice::run_copies_through(uint64_t ticket) {
  while (!queue_.empty() && first_ticket_ <= ticket) {
    const Copy c = queue_.front();
    std::memcpy(c.dst, c.src, c.bytes);
    queue_.pop_front();
    ++first_ticket_;
  }
}

tandem_status StandInDevice::wait_copy(void* ctx, uint64_t ticket, tandem_error* err) {
  return sdk::guard(err, [&] {
    StandInDevice& d = self(ctx);
    const std::lock_guard<std::mutex> lock(d.mutex_);
    if (ticket >= d.first_ticket_ + d.queue_.size())
      throw std::invalid_argument("wait_copy: ticket " + std::to_string(ticket) + " was never issued");
    d.run_copies_through(ticket);
  });
}

tandem_status StandInDevice::join_copies(void* ctx, tandem_error* err) {
  return sdk::guard(err, [&] {
    StandInDevice& d = self(ctx);
    const std::lock_guard<std::mutex> lock(d.mutex_);
    d.run_copies_through(UINT64_MAX);
  });
}

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
