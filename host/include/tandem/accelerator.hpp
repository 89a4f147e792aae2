// Accelerate's multi-plugin DeepSpeed API, in C++.
//
//   tandem::PluginSet plugins{{"student", DeepSpeedPlugin::from("configs/zero2_config.json")},
//                             {"teacher", DeepSpeedPlugin::from("configs/zero3_config.json")}};
//   tandem::Accelerator accelerator(std::move(plugins));   // "student" is active
//   auto student = accelerator.prepare(student_inputs);    // bound to "student"
//   accelerator.select("teacher");
//   auto teacher = accelerator.prepare(teacher_inputs);    // bound to "teacher"
//   tandem::Accelerator second;                            // shares the plugins and the selection
//
// What follows Accelerate (see ../shared/reference/deepspeed-semantics.md, section 1):
//   - the first plugin of the set is active; select(name) switches; active() is the active plugin;
//   - an Accelerator made without plugins shares the process's State; one made with plugins while a
//     State exists is an error;
//   - prepare() binds the active plugin's config to what it prepares: a later select() changes only
//     what the next prepare() uses.
// What tandem does better:
//   - select() of an unknown name is an error listing the names, and the active plugin stays as it
//     was (Accelerate unselects every plugin first and then raises);
//   - an empty plugin set, or a duplicate name, is an error;
//   - prepare(inputs, "teacher") binds by name without touching the active plugin;
//   - every "auto" is resolved at prepare, or prepare fails naming each key that nothing resolves.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tandem/config.hpp"
#include "tandem/engine.hpp"
#include "tandem/lr_scheduler.hpp"
#include "tandem/registry.hpp"

namespace tandem {

// Wrong use of the plugin API: an unknown or duplicate name, an empty set, a second set of plugins.
class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A DeepSpeed config under a name, as Accelerate's DeepSpeedPlugin. Each plugin owns its config.
// As Accelerate's plugin, it needs a zero_optimization block (ConfigError naming the config
// otherwise) and reads a missing gradient_accumulation_steps as 1; after prepare() its config holds
// the values prepare filled in (State::plugin(name).config()), as Accelerate fills
// plugin.deepspeed_config in place.
class DeepSpeedPlugin {
 public:
  explicit DeepSpeedPlugin(DeepSpeedConfig config);
  // A config file path, JSON text or urlsafe-base64 JSON (load_config). Throws ConfigError.
  static DeepSpeedPlugin from(const std::string& path_or_text) { return DeepSpeedPlugin(load_config(path_or_text)); }

  const DeepSpeedConfig& config() const { return config_; }
  // Accelerate's users edit an inactive plugin's config before selecting it (DeepSpeedConfig::with
  // edits one value); prepared objects keep the config they were bound to. The same rules as the
  // constructor's apply.
  void set_config(DeepSpeedConfig config);

 private:
  DeepSpeedConfig config_;
};

// Named plugins, in the order they were given.
class PluginSet {
 public:
  PluginSet() = default;
  PluginSet(std::initializer_list<std::pair<std::string, DeepSpeedPlugin>> plugins);

  // Throws PluginError for an empty or duplicate name.
  void add(std::string name, DeepSpeedPlugin plugin);

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  std::vector<std::string> names() const;
  bool contains(std::string_view name) const;
  // Throws PluginError naming the unknown name and listing the known ones.
  const DeepSpeedPlugin& at(std::string_view name) const;
  DeepSpeedPlugin& at(std::string_view name);
  const std::string& first_name() const;  // PluginError if empty

 private:
  std::vector<std::pair<std::string, DeepSpeedPlugin>> entries_;
};

// Settings that apply to every plugin of the process (Accelerator's constructor arguments).
struct AcceleratorOptions {
  MixedPrecision mixed_precision = MixedPrecision::No;   // applied to every plugin, as Accelerate does
  std::optional<int64_t> gradient_accumulation_steps;    // fills an "auto" gradient_accumulation_steps
  int64_t world_size = 1;                                // data-parallel thread-ranks (cpu only)
  std::vector<std::filesystem::path> module_path;        // scanned after the default directories
  RunDevice device = RunDevice::cpu;
};

namespace gpu {
class Device;  // the GPU of a cuda process (libtandem's own)
}

// The process-wide state: the plugins, which one is active, and the module registry. Created by the
// first Accelerator with plugins; shared by every Accelerator after it; cleared by reset().
class State {
 public:
  // The state, or nullptr if no Accelerator with plugins was made since the last reset().
  static std::shared_ptr<State> current();
  // Forgets the process's state (Accelerate's AcceleratorState._reset_state); objects already made
  // keep theirs. For tests and for programs that start over.
  static void reset();

  std::vector<std::string> plugin_names() const;
  std::string active_name() const;
  // A copy of the plugin under `name` (PluginError if unknown); plugins are small.
  DeepSpeedPlugin plugin(std::string_view name) const;
  DeepSpeedPlugin active() const { return plugin(active_name()); }
  // Replaces the config of a plugin (as Accelerate's users mutate an inactive plugin's dict).
  void set_plugin_config(std::string_view name, DeepSpeedConfig config);
  // Makes `name` active. Unknown: PluginError listing the names; the active plugin is unchanged.
  void select(std::string_view name);

  const AcceleratorOptions& options() const { return options_; }
  const ModuleRegistry& registry() const { return *registry_; }
  // The communicator and the threads that play this process's ranks, made when the first engine
  // is prepared: `local` with options().world_size thread-ranks, or `nccl` with this process's one.
  std::shared_ptr<RankPool> ranks();
  std::shared_ptr<ModuleInstance> comm();
  // Ranks in the whole run, and in this process.
  int64_t world_size();
  int64_t local_ranks();
  // The GPU of a cuda process (or the stand-in), opened with the communicator; nullptr on the cpu.
  std::shared_ptr<gpu::Device> gpu();
  // A cuda process's GPU in words ("NVIDIA H200 (sm_90, 132 SMs)"; "cpu" on the cpu), and the device
  // memory its allocations use (every engine's, optimizer state included): now, and at most since
  // reset_gpu_memory_peak() - what torch.cuda.memory_allocated / max_memory_allocated report. 0 on the cpu.
  std::string device_description();
  size_t gpu_memory_in_use();
  size_t gpu_memory_peak();
  void reset_gpu_memory_peak();

  ~State();

 private:
  friend class Accelerator;
  State(PluginSet plugins, AcceleratorOptions options);
  static std::shared_ptr<State> create(PluginSet plugins, AcceleratorOptions options);

  mutable std::mutex mutex_;  // plugins_ and active_ may be read and selected from several threads
  PluginSet plugins_;
  std::string active_;
  AcceleratorOptions options_;
  std::unique_ptr<ModuleRegistry> registry_;
  std::shared_ptr<gpu::Device> gpu_;
  std::shared_ptr<ModuleInstance> comm_;
  std::shared_ptr<RankPool> ranks_;
  std::mutex ranks_mutex_;
};

// An optimizer or scheduler given to prepare() in code rather than in the config (Accelerate's
// prepare(model, optimizer, scheduler) with torch objects): the type as a config's block names it
// ("AdamW", "WarmupLR", a module's name) and its params. A config with its own block is then an
// error, as in Accelerate. An optimizer in code stands for a torch one: "Adam" is torch.optim.Adam
// (L2 decay: adam_w_mode false unless given), "AdamW" decoupled, and under offload_optimizer both run
// on cpu_adamw, as Accelerate maps them to DeepSpeedCPUAdam; it also sets zero_allow_untested_optimizer.
struct ClientModuleSpec {
  std::string type;
  json::Value params = json::Value::object();
};

// What the caller knows at prepare() that a config's "auto" values may come from (Accelerate reads
// them from the model, the optimizer, the scheduler and the data loaders it is given).
struct PrepareInputs {
  std::optional<int64_t> hidden_size;  // the model's (model.config.hidden_size)
  std::optional<int64_t> micro_batch;  // the data loader's batch size per rank
  std::optional<double> lr;            // a client optimizer's lr (Accelerate's DummyOptim lr)
  std::optional<double> weight_decay;
  std::optional<int64_t> warmup_steps;
  std::optional<int64_t> total_steps;
  std::optional<double> gradient_clipping;
  // The optimizer's parameter groups: each group's lr (default: one group at the resolved lr).
  std::vector<double> group_lrs;
  // The model to build an engine for; without one, prepare() resolves the config and creates the
  // scheduler only. The model's hidden size fills hidden_size when that is not given.
  std::optional<ModelSpec> model;
  // The optimizer and scheduler given in code (above); their params' lr fills the schedule's "auto"
  // as a client optimizer's lr does in Accelerate.
  std::optional<ClientModuleSpec> optimizer;
  std::optional<ClientModuleSpec> scheduler;
};

// What prepare() made: the config it was bound to, resolved, and the objects the config selects.
class Prepared {
 public:
  const std::string& plugin_name() const { return plugin_name_; }
  const ResolvedConfig& config() const { return config_; }
  // The config's scheduler, bound to the optimizer's groups; nullptr if the config has none.
  LrScheduler* scheduler() { return scheduler_.get(); }
  const LrScheduler* scheduler() const { return scheduler_.get(); }
  // The engine, when a model was prepared; nullptr otherwise.
  Engine* engine() { return engine_.get(); }
  const Engine* engine() const { return engine_.get(); }

 private:
  friend class Accelerator;
  std::string plugin_name_;
  ResolvedConfig config_;
  std::unique_ptr<LrScheduler> scheduler_;
  std::unique_ptr<Engine> engine_;  // after scheduler_: destroyed first, as it points to it
};

class Accelerator {
 public:
  // Shares the process's State. PluginError if there is none (make the first Accelerator with
  // plugins).
  Accelerator();
  // Creates the process's State. PluginError if the set is empty or a State exists already.
  explicit Accelerator(PluginSet plugins, AcceleratorOptions options = {});

  State& state() const { return *state_; }
  std::string active_name() const { return state_->active_name(); }
  DeepSpeedPlugin deepspeed_plugin() const { return state_->active(); }
  void select(std::string_view name) { state_->select(name); }

  // Resolves the active plugin's config (or `plugin`'s, without changing the active one) with the
  // inputs and the accelerator's options, and creates what the config selects. Throws ConfigError
  // (an "auto" nothing resolves, a batch triple that does not hold), ModuleError (an unknown module,
  // bad module params, a failing factory) or PluginError (an unknown plugin name).
  Prepared prepare(const PrepareInputs& inputs, std::optional<std::string_view> plugin = std::nullopt) const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace tandem
