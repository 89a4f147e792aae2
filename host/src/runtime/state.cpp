// The process-wide State: the one piece of global mutable data in libtandem (DESIGN.md). It holds the
// plugins, the active plugin's name and the module registry; Accelerators share it.
#include <mutex>

#include "engine/rank_pool.hpp"
#include "tandem/accelerator.hpp"
#include "tandem/comm.h"

namespace tandem {

namespace {

// Where the process's State lives between Accelerators. Guarded by its own mutex because an
// Accelerator may be made on any thread.
struct ProcessState {
  std::mutex mutex;
  std::shared_ptr<State> state;
};

ProcessState& process_state() {
  static ProcessState holder;
  return holder;
}

}  // namespace

State::State(PluginSet plugins, AcceleratorOptions options)
    : plugins_(std::move(plugins)),
      active_(plugins_.first_name()),
      options_(std::move(options)),
      registry_(std::make_unique<ModuleRegistry>()) {
  if (options_.world_size < 1)
    throw PluginError("world_size must be at least 1, got " + std::to_string(options_.world_size));
  registry_->scan(ModuleRegistry::default_search_path(options_.module_path));
}

State::~State() {
  ranks_.reset();  // the threads stop before the communicator they use goes
  comm_.reset();
}

std::shared_ptr<ModuleInstance> State::comm() {
  std::lock_guard lock(ranks_mutex_);
  if (!comm_) {
    // Thread-ranks in this process; the nccl communicator (one rank per process) comes with GPUs.
    json::Value params = json::Value::object();
    params.set("world_size", json::Value::integer(options_.world_size));
    comm_ = registry_->create(registry_->get(ModuleKind::Comm, "local"), &params, "<accelerator options>", "comm");
  }
  return comm_;
}

std::shared_ptr<RankPool> State::ranks() {
  std::shared_ptr<ModuleInstance> communicator = comm();
  std::lock_guard lock(ranks_mutex_);
  if (!ranks_) {
    const auto& vt = communicator->vtable<tandem_comm_vtable>();
    void* handle = communicator->handle();
    // A failing rank aborts the communicator, so that the others leave their collectives.
    ranks_ = std::make_shared<RankPool>(vt.local_rank_count(handle), [communicator](int32_t rank, const char* message) {
      communicator->vtable<tandem_comm_vtable>().abort(communicator->handle(), rank, message);
    });
  }
  return ranks_;
}

std::shared_ptr<State> State::create(PluginSet plugins, AcceleratorOptions options) {
  if (plugins.empty())
    throw PluginError("an Accelerator needs at least one DeepSpeed plugin; the set given is empty");
  ProcessState& holder = process_state();
  std::lock_guard lock(holder.mutex);
  if (holder.state)
    throw PluginError(
        "DeepSpeed plugins were already given to an earlier Accelerator; make a second Accelerator "
        "without plugins to share them (or call State::reset() to start over)");
  holder.state = std::shared_ptr<State>(new State(std::move(plugins), std::move(options)));
  return holder.state;
}

std::shared_ptr<State> State::current() {
  ProcessState& holder = process_state();
  std::lock_guard lock(holder.mutex);
  return holder.state;
}

void State::reset() {
  ProcessState& holder = process_state();
  std::lock_guard lock(holder.mutex);
  holder.state.reset();
}

std::vector<std::string> State::plugin_names() const {
  std::lock_guard lock(mutex_);
  return plugins_.names();
}

std::string State::active_name() const {
  std::lock_guard lock(mutex_);
  return active_;
}

DeepSpeedPlugin State::plugin(std::string_view name) const {
  std::lock_guard lock(mutex_);
  return plugins_.at(name);
}

void State::set_plugin_config(std::string_view name, DeepSpeedConfig config) {
  std::lock_guard lock(mutex_);
  plugins_.at(name).set_config(std::move(config));
}

void State::select(std::string_view name) {
  std::lock_guard lock(mutex_);
  plugins_.at(name);  // throws, listing the names, before anything changes
  active_ = std::string(name);
}

}  // namespace tandem
