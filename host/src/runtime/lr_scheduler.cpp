// LrScheduler: the host side of tandem_scheduler_vtable. See tandem/lr_scheduler.hpp.
#include "tandem/lr_scheduler.hpp"

#include <cstddef>
#include <string>

#include "tandem/call.hpp"  // sdk::status_name, sdk::ErrorBuffer: one copy for the host and the modules

namespace tandem {

namespace {

// The size of the scheduler table in ABI 1.0. Later minors may append functions, so a bigger
// table is fine; a smaller one cannot be called.
constexpr size_t kVtableSize_1_0 = offsetof(tandem_scheduler_vtable, state_load) + sizeof(void*);

std::string where(const ModuleInstance& instance) {
  return instance.label() + " (" + instance.file().string() + ")";
}

}  // namespace

LrScheduler::LrScheduler(std::shared_ptr<ModuleInstance> instance) : instance_(std::move(instance)) {
  if (!instance_) throw ModuleError("LrScheduler: no module instance");
  const tandem_module_descriptor& d = instance_->descriptor();
  if (d.kind != TANDEM_KIND_SCHEDULER)
    throw ModuleError(where(*instance_) + ": module '" + (d.name ? d.name : "?") + "' is of kind " +
                      std::to_string(d.kind) + ", not a scheduler (" + std::to_string(TANDEM_KIND_SCHEDULER) + ")");
  vtable_ = static_cast<const tandem_scheduler_vtable*>(d.vtable);
  if (vtable_ == nullptr || vtable_->struct_size < kVtableSize_1_0)
    throw ModuleError(where(*instance_) + ": the scheduler function table is " +
                      (vtable_ == nullptr ? std::string("missing")
                                          : "only " + std::to_string(vtable_->struct_size) + " bytes") +
                      "; ABI 1.0 needs " + std::to_string(kVtableSize_1_0));
  if (!vtable_->bind || !vtable_->step || !vtable_->iteration || !vtable_->values || !vtable_->state_size ||
      !vtable_->state_save || !vtable_->state_load)
    throw ModuleError(where(*instance_) + ": the scheduler function table has a null entry");
}

void LrScheduler::fail(const char* what, tandem_status status, const char* message) const {
  throw ModuleError(where(*instance_) + ": " + what + " failed: " +
                    (message != nullptr && message[0] != '\0' ? message : "(the module gave no reason)") + " [" +
                    sdk::status_name(status) + "]");
}

void LrScheduler::require_bound(const char* what) const {
  if (!bound())
    throw ModuleError(where(*instance_) + ": " + what + " before bind(): bind the scheduler to the optimizer's "
                      "parameter groups first");
}

void LrScheduler::bind(std::span<const double> base_lrs, bool has_betas) {
  // The ABI allows one bind per instance: a second one would silently restart the schedule.
  if (bound()) throw ModuleError(where(*instance_) + ": bind() called twice; a scheduler is bound once");
  if (base_lrs.empty()) throw ModuleError(where(*instance_) + ": bind() with no parameter groups");
  const tandem_scheduler_binding binding{sizeof(tandem_scheduler_binding), static_cast<uint32_t>(base_lrs.size()),
                                         base_lrs.data(), has_betas ? 1 : 0};
  sdk::ErrorBuffer e;
  const tandem_status status = vtable_->bind(instance_->handle(), &binding, e.get());
  if (status != TANDEM_STATUS_OK) fail("bind", status, e.message().c_str());
  group_count_ = base_lrs.size();
}

void LrScheduler::step() {
  require_bound("step()");
  sdk::ErrorBuffer e;
  const tandem_status status = vtable_->step(instance_->handle(), e.get());
  if (status != TANDEM_STATUS_OK) fail("step", status, e.message().c_str());
}

int64_t LrScheduler::iteration() const { return vtable_->iteration(instance_->handle()); }

SchedulerValues LrScheduler::values() const {
  require_bound("values()");
  std::vector<double> lrs(group_count_), momenta(group_count_), second_betas(group_count_);
  tandem_scheduler_values out{sizeof(tandem_scheduler_values), static_cast<uint32_t>(group_count_), lrs.data(),
                              momenta.data(), second_betas.data(), 0u};
  sdk::ErrorBuffer e;
  const tandem_status status = vtable_->values(instance_->handle(), &out, e.get());
  if (status != TANDEM_STATUS_OK) fail("values", status, e.message().c_str());
  SchedulerValues result{std::move(lrs), std::nullopt, std::nullopt};
  if (out.flags & TANDEM_SCHEDULER_SETS_MOMENTUM) result.momenta = std::move(momenta);
  if (out.flags & TANDEM_SCHEDULER_SETS_SECOND_BETA) result.second_betas = std::move(second_betas);
  return result;
}

std::vector<std::byte> LrScheduler::save_state() const {
  require_bound("save_state()");
  // A module whose save fails reports size 0; state_save then refuses the empty buffer with the reason.
  std::vector<std::byte> state(vtable_->state_size(instance_->handle()));
  sdk::ErrorBuffer e;
  const tandem_status status = vtable_->state_save(instance_->handle(), state.data(), state.size(), e.get());
  if (status != TANDEM_STATUS_OK) fail("save_state", status, e.message().c_str());
  return state;
}

void LrScheduler::load_state(std::span<const std::byte> state) {
  require_bound("load_state()");
  sdk::ErrorBuffer e;
  const tandem_status status = vtable_->state_load(instance_->handle(), state.data(), state.size(), e.get());
  if (status != TANDEM_STATUS_OK) fail("load_state", status, e.message().c_str());
}

}  // namespace tandem
