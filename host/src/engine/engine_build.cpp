// Engine::build: the per-rank modules a resolved config selects, wired together, with the initial
// weights set.
#include <cstdio>

#include "engine/engine_rank.hpp"
#include "engine/optimizer_module.hpp"
#include "engine/rank_pool.hpp"
#include "engine/stage_choice.hpp"
#include "tandem/call.hpp"
#include "tandem/memory.hpp"

namespace tandem {

namespace {

// The optimizer module a config's "optimizer.type" selects (optimizer_module.hpp), and the params it
// gets: "AdamW" always means decoupled decay, "Adam" leaves adam_w_mode to the config.
struct OptimizerChoice {
  std::string module;
  json::Value params;
};

// The module a block selects. Under ZeRO-Offload (offload_optimizer.device set, a partitioned stage) a module named "cpu_" + the
// chosen name is preferred when the registry has one, as DeepSpeed builds DeepSpeedCPUAdam there:
// "AdamW" runs on cpu_adamw, the host-side kernel at the memory-bandwidth limit, with the same params.
OptimizerChoice choose_optimizer(const ModuleBlock& block, const ResolvedConfig& config,
                                 const ModuleRegistry& registry) {
  const std::string type_path = block.path + ".type";
  OptimizerChoice choice{optimizer_module_name(block.type, registry, config.source, block.type_position, type_path),
                         block.params};
  const std::string warning =
      check_untested_zero_optimizer(block.type, config.zero.stage, config.zero_allow_untested_optimizer,
                                    config.source, block.type_position, type_path);
  if (!warning.empty()) std::fprintf(stderr, "warning: %s: %s\n", config.source.c_str(), warning.c_str());
  if (canonical_module_name(block.type) == "adamw") {
    json::Value forced = json::Value::boolean(true);
    forced.set_position(block.position);
    choice.params.set("adam_w_mode", std::move(forced));
  }
  // DeepSpeed's ZeRO 1-3 hand FusedLamb each group's flat partition, so its trust ratio is over the
  // rank's partition of a group, not each parameter (modules/optimizer/lamb).
  if (choice.module == "lamb" && config.zero.stage >= 1) {
    json::Value flat = json::Value::boolean(true);
    flat.set_position(block.position);
    choice.params.set("partition_norms", std::move(flat));
  }
  if (config.zero.optimizer_offload_device() != OffloadDevice::None && config.zero.stage != 0) {
    const std::string host_module = "cpu_" + choice.module;
    if (registry.find(ModuleKind::Optimizer, host_module) != nullptr) choice.module = host_module;
  }
  return choice;
}

template <class Table>
const Table* table_of(const ModuleInstance& instance) {
  return &instance.vtable<Table>();
}

// ZeRO-Offload keeps the master weights and the optimizer state in host memory and steps them
// there. Whether an optimizer can do that is its own declaration (a capability flag), never a list
// of names: a third-party optimizer with a host path works, a device-only one is refused. Under
// ZeRO-0 DeepSpeed ignores offload_optimizer (the config check warns), so nothing is required there.
void require_host_optimizer_for_offload(const ResolvedConfig& config, const ModuleInstance& optimizer,
                                        const tandem_optimizer_vtable& vt) {
  const OffloadDevice device = config.zero.optimizer_offload_device();
  if (device == OffloadDevice::None || config.zero.stage == 0) return;
  const uint32_t capabilities = vt.capabilities(optimizer.handle());
  if ((capabilities & TANDEM_OPTIMIZER_RUNS_ON_HOST) != 0) return;
  char flags[16];
  std::snprintf(flags, sizeof flags, "0x%x", capabilities);
  throw ModuleError(config.source + ": zero_optimization.offload_optimizer.device is \"" +
                    std::string(offload_device_name(device)) +
                    "\", which runs the optimizer on the host, but optimizer module '" + optimizer.module_name() +
                    "' (" + optimizer.file().string() + ") does not declare TANDEM_OPTIMIZER_RUNS_ON_HOST " +
                    "(its capabilities: " + flags + "). Use an optimizer that can run on the host, or set " +
                    "offload_optimizer.device to \"none\"");
}

// The working precision the config's "bf16" / "fp16" block asks for (DeepSpeed's mixed precision:
// 16-bit parameters and gradients, fp32 master weights and optimizer state).
tandem_dtype working_precision(const ResolvedConfig& config) {
  switch (config.precision) {
    case MixedPrecision::Bf16:
      return TANDEM_DTYPE_BF16;
    case MixedPrecision::Fp16:
      return TANDEM_DTYPE_F16;
    default:
      return TANDEM_DTYPE_F32;
  }
}

// tandem_stage_options.param_dtype arrived in SDK 1.1: a stage built against 1.0 cannot see it, and
// would silently train in fp32 what the config asked to train in 16 bits.
void require_precision_support(const ResolvedConfig& config, const ModuleInfo& stage) {
  if (working_precision(config) == TANDEM_DTYPE_F32 || stage.abi_minor >= 1) return;
  throw ModuleError(config.source + ": the config enables " + std::string(mixed_precision_name(config.precision)) +
                    ", but stage module '" + stage.name + "' (" + stage.file.string() + ") was built against SDK " +
                    std::to_string(stage.abi_major) + "." + std::to_string(stage.abi_minor) +
                    ", which has no working precision (SDK 1.1 added it; this host is " +
                    std::to_string(TANDEM_ABI_MAJOR) + "." + std::to_string(TANDEM_ABI_MINOR) +
                    "). Rebuild the module against this SDK, or disable " +
                    std::string(mixed_precision_name(config.precision)));
}

// SDK 1.2 gave stages a memory table (tandem/memory.h): an older stage keeps host memory, which a
// model on a GPU cannot read.
void require_device_support(const ResolvedConfig& config, const ModuleInfo& stage) {
  if (stage.abi_minor >= 2) return;
  throw ModuleError(config.source + ": this run is on a GPU, but stage module '" + stage.name + "' (" +
                    stage.file.string() + ") was built against SDK " + std::to_string(stage.abi_major) + "." +
                    std::to_string(stage.abi_minor) + ", which keeps its buffers in host memory (SDK 1.2 added device "
                    "memory; this host is " + std::to_string(TANDEM_ABI_MAJOR) + "." + std::to_string(TANDEM_ABI_MINOR) +
                    "). Rebuild the module against this SDK, or run on the cpu");
}

// A model computes on a GPU only if it says so (SDK 1.2's place()).
void place_model(const ModuleInstance& model, const tandem_model_vtable& vt, const tandem_placement& where,
                 uint32_t dtype) {
  if (!TANDEM_HAS_FIELD(vt.struct_size, tandem_model_vtable, place) || vt.place == nullptr)
    throw ModuleError("model module '" + std::string(model.module_name()) + "' (" + model.file().string() +
                      ") was built against an SDK older than 1.2, which has no place(): it computes on the cpu only");
  try {
    sdk::call_checked([&](tandem_error* err) { return vt.place(model.handle(), &where, dtype, err); });
  } catch (const std::exception& e) {
    throw ModuleError("model module '" + std::string(model.module_name()) + "' (" + model.file().string() +
                      ") cannot run on GPU " + std::to_string(where.device_index) + ": " + e.what());
  }
}

}  // namespace

void Engine::build(const ModuleRegistry& registry, std::vector<std::shared_ptr<ModuleInstance>> models, uint64_t seed,
                   LrScheduler* scheduler, std::shared_ptr<RankPool> pool, std::shared_ptr<ModuleInstance> comm,
                   std::shared_ptr<gpu::Device> gpu) {
  pool_ = std::move(pool);
  scaler_ = LossScaler(config_.loss_scaling);
  comm_ = std::move(comm);
  gpu_ = std::move(gpu);
  scheduler_ = scheduler;
  working_dtype_ = working_precision(config_);
  const int32_t world = pool_->size();
  if (static_cast<int32_t>(models.size()) != world)
    throw std::logic_error("Engine::build: one model instance per rank expected");

  // Each rank's modules.
  const ModuleInfo& stage_module = choose_stage_module(config_, registry);
  require_precision_support(config_, stage_module);
  if (gpu_) require_device_support(config_, stage_module);
  std::optional<OptimizerChoice> optimizer;
  const ModuleInfo* optimizer_module = nullptr;
  if (config_.optimizer) {
    optimizer = choose_optimizer(*config_.optimizer, config_, registry);
    optimizer_module = &registry.get(ModuleKind::Optimizer, optimizer->module);
  }
  has_optimizer_ = optimizer.has_value();
  for (int32_t r = 0; r < world; ++r) {
    auto rank = std::make_unique<Rank>();
    rank->model = std::move(models[static_cast<size_t>(r)]);
    rank->model_vt = table_of<tandem_model_vtable>(*rank->model);
    if (gpu_) {
      gpu_->bind_thread();
      place_model(*rank->model, *rank->model_vt, gpu_->placement(), working_dtype_);
      // The rank's collectives follow its stage's memory to the side stream and back (overlap_comm).
      rank->memory = gpu_->memory([comm = comm_, r](void* stream) {
        const auto& vt = comm->vtable<tandem_comm_vtable>();
        if (TANDEM_HAS_FIELD(vt.struct_size, tandem_comm_vtable, set_stream) && vt.set_stream != nullptr)
          sdk::call_checked([&](tandem_error* err) { return vt.set_stream(comm->handle(), r, stream, err); });
      });
      rank->loss = gpu_->loss();
      rank->timer = gpu_->timer(Rank::kMarks);
    }
    rank->stage = registry.create(stage_module, stage_module_params(config_), config_.source, name_ + ".stage");
    rank->stage_vt = table_of<tandem_stage_vtable>(*rank->stage);
    if (optimizer) {
      rank->optimizer = registry.create(*optimizer_module, &optimizer->params, config_.source, name_ + ".optimizer");
      rank->optimizer_vt = table_of<tandem_optimizer_vtable>(*rank->optimizer);
      if (r == 0) require_host_optimizer_for_offload(config_, *rank->optimizer, *rank->optimizer_vt);
    }
    ranks_.push_back(std::move(rank));
  }

  // The model's parameters, and the two conventional optimizer groups: 0 decays, 1 does not.
  const Rank& first = *ranks_.front();
  vocab_ = first.model_vt->vocab_size(first.model->handle());
  max_sequence_ = first.model_vt->max_sequence(first.model->handle());
  hidden_ = first.model_vt->hidden_size(first.model->handle());
  const uint32_t count = first.model_vt->param_count(first.model->handle());
  for (uint32_t i = 0; i < count; ++i) {
    tandem_model_param p{};
    p.struct_size = sizeof p;
    sdk::call_checked([&](tandem_error* err) { return first.model_vt->param_info(first.model->handle(), i, &p, err); });
    params_.push_back(p);
    param_groups_.push_back((p.flags & TANDEM_MODEL_PARAM_NO_WEIGHT_DECAY) != 0 ? 1u : 0u);
  }
  if (params_.empty()) throw ModuleError(name_ + ": the model declares no parameters");
  if (optimizer) {
    tandem_optimizer_hparams defaults{};
    defaults.struct_size = sizeof defaults;
    sdk::call_checked(
        [&](tandem_error* err) { return first.optimizer_vt->defaults(first.optimizer->handle(), &defaults, err); });
    tandem_optimizer_hparams no_decay = defaults;
    no_decay.weight_decay = 0.0;
    group_defaults_ = {defaults, no_decay};
  }

  // Each rank's stage, set up on its own thread (a stage may talk to the others while it does).
  const auto& comm_vt = comm_->vtable<tandem_comm_vtable>();
  const ZeroConfig& z = config_.zero;
  on_ranks([&](int32_t r) {
    Rank& rank = *ranks_[static_cast<size_t>(r)];
    tandem_stage_setup setup{};
    setup.struct_size = sizeof setup;
    setup.rank = comm_vt.first_rank(comm_->handle()) + r;
    setup.world_size = comm_vt.world_size(comm_->handle());
    setup.local_rank = r;
    setup.params = params_.data();
    setup.param_count = static_cast<uint32_t>(params_.size());
    setup.layer_count = rank.model_vt->layer_count(rank.model->handle());
    setup.param_groups = param_groups_.data();
    setup.group_count = 2;
    setup.comm = comm_->handle();
    setup.comm_vtable = &comm_vt;
    setup.optimizer = rank.optimizer ? rank.optimizer->handle() : nullptr;
    setup.optimizer_vtable = rank.optimizer_vt;
    setup.options = tandem_stage_options{sizeof(tandem_stage_options),
                                         z.reduce_bucket_size,
                                         z.allgather_bucket_size,
                                         z.overlap_comm ? 1 : 0,
                                         z.contiguous_gradients ? 1 : 0,
                                         z.prefetch_bucket_size,
                                         z.max_live_parameters,
                                         z.max_reuse_distance,
                                         z.param_persistence_threshold,
                                         z.model_persistence_threshold,
                                         z.optimizer_offload_device() != OffloadDevice::None ? 1 : 0,
                                         static_cast<int32_t>(working_dtype_)};
    setup.memory = rank.memory ? rank.memory->table() : sdk::host_memory_ops();
    sdk::call_checked([&](tandem_error* err) { return rank.stage_vt->setup(rank.stage->handle(), &setup, err); });
  });

  // Initial weights: a pure function of the seed, computed once and given to every rank.
  std::vector<std::pair<std::string, std::vector<float>>> initial;
  for (uint32_t i = 0; i < params_.size(); ++i) {
    std::vector<float> values;
    size_t n = 1;
    for (uint32_t d = 0; d < params_[i].ndim; ++d) n *= static_cast<size_t>(params_[i].shape[d]);
    values.resize(n);
    tandem_tensor_view view{};
    view.struct_size = sizeof view;
    view.dtype = TANDEM_DTYPE_F32;
    view.device = TANDEM_DEVICE_CPU;
    view.data = values.data();
    view.ndim = params_[i].ndim;
    std::copy(params_[i].shape, params_[i].shape + params_[i].ndim, view.shape);
    sdk::call_checked(
        [&](tandem_error* err) { return first.model_vt->init_param(first.model->handle(), i, seed, &view, err); });
    initial.emplace_back(params_[i].name, std::move(values));
  }
  set_parameters(initial);
}

}  // namespace tandem
