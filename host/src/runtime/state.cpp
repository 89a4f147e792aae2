// The process-wide State: the one piece of global mutable data in libtandem (DESIGN.md). It holds the
// plugins, the active plugin's name and the module registry; Accelerators share it.
#include <iostream>
#include <mutex>

#include "device/gpu.hpp"
#include "engine/rank_pool.hpp"
#include "runtime/launch_env.hpp"
#include "tandem/accelerator.hpp"
#include "tandem/call.hpp"
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

const char* run_device_name(RunDevice device) {
  switch (device) {
    case RunDevice::cuda:
      return "cuda";
    case RunDevice::stand_in:
      return "stand_in";
    default:
      return "cpu";
  }
}

State::State(PluginSet plugins, AcceleratorOptions options)
    : plugins_(std::move(plugins)),
      active_(plugins_.first_name()),
      options_(std::move(options)),
      registry_(std::make_unique<ModuleRegistry>()) {
  if (options_.world_size < 1)
    throw PluginError("world_size must be at least 1, got " + std::to_string(options_.world_size));
  if (options_.device == RunDevice::cuda && options_.world_size != 1)
    throw PluginError("a GPU process is one rank (world_size " + std::to_string(options_.world_size) +
                      " asks for thread-ranks, which are for the cpu): start one process per GPU instead");
  registry_->scan(ModuleRegistry::default_search_path(options_.module_path));
  warn_about_modules_that_died_loading(*registry_, std::cerr);
}

State::~State() {
  ranks_.reset();  // the threads stop before the communicator they use goes
  comm_.reset();
  gpu_.reset();    // and the stream after the communicator that queues on it
}

std::shared_ptr<ModuleInstance> State::comm() {
  std::lock_guard lock(ranks_mutex_);
  if (!comm_) {
    json::Value params = json::Value::object();
    if (options_.device != RunDevice::cuda) {  // thread-ranks in this process
      params.set("world_size", json::Value::integer(options_.world_size));
      comm_ = registry_->create(registry_->get(ModuleKind::Comm, "local"), &params, "<accelerator options>", "comm");
      if (options_.device == RunDevice::stand_in) gpu_ = gpu::stand_in_device();
    } else {  // this process's rank on its GPU; the launcher's environment says which and where they meet
      LaunchEnv env;
      try {
        env = read_launch_env();
      } catch (const std::invalid_argument& e) {
        throw PluginError(std::string("the launch environment: ") + e.what());
      }
      gpu_ = gpu::Device::open(env.local_rank);
      gpu_->bind_thread();
      params.set("device", json::Value::integer(gpu_->index()));
      params.set("rank", json::Value::integer(env.rank));
      params.set("world_size", json::Value::integer(env.world_size));
      params.set("master_addr", json::Value::string(env.master_addr));
      params.set("master_port", json::Value::integer(env.master_port));
      comm_ = registry_->create(registry_->get(ModuleKind::Comm, "nccl"), &params, "<accelerator options>", "comm");
      const auto& vt = comm_->vtable<tandem_comm_vtable>();
      if (!TANDEM_HAS_FIELD(vt.struct_size, tandem_comm_vtable, set_stream) || vt.set_stream == nullptr)
        throw ModuleError(comm_->file().string() + ": communicator built against an SDK older than 1.2 cannot queue on a GPU stream");
      sdk::call_checked([&](tandem_error* err) { return vt.set_stream(comm_->handle(), 0, gpu_->placement().stream, err); });
    }
  }
  return comm_;
}

std::shared_ptr<gpu::Device> State::gpu() {
  if (options_.device == RunDevice::cpu) return nullptr;  // without opening the communicator
  comm();
  return gpu_;
}

std::string State::device_description() {
  const std::shared_ptr<gpu::Device> g = gpu();
  return g ? g->description() : "cpu";
}
size_t State::gpu_memory_in_use() {
  const std::shared_ptr<gpu::Device> g = gpu();
  return g ? g->memory_in_use() : 0;
}
size_t State::gpu_memory_peak() {
  const std::shared_ptr<gpu::Device> g = gpu();
  return g ? g->memory_peak() : 0;
}
void State::reset_gpu_memory_peak() {
  if (const std::shared_ptr<gpu::Device> g = gpu()) g->reset_peak();
}

int64_t State::world_size() {
  const std::shared_ptr<ModuleInstance> c = comm();
  return c->vtable<tandem_comm_vtable>().world_size(c->handle());
}

int64_t State::local_ranks() {
  const std::shared_ptr<ModuleInstance> c = comm();
  return c->vtable<tandem_comm_vtable>().local_rank_count(c->handle());
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
