#include "typed_config.hpp"

#include <cctype>
#include <cmath>
#include <stdexcept>
#include <string>

#include "schema.hpp"

namespace tandem {

std::string_view mixed_precision_name(MixedPrecision mp) {
  switch (mp) {
    case MixedPrecision::No: return "no";
    case MixedPrecision::Fp16: return "fp16";
    case MixedPrecision::Bf16: return "bf16";
  }
  return "?";
}

std::optional<MixedPrecision> parse_mixed_precision(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "no") return MixedPrecision::No;
  if (lower == "fp16") return MixedPrecision::Fp16;
  if (lower == "bf16") return MixedPrecision::Bf16;
  return std::nullopt;
}

std::string_view offload_device_name(OffloadDevice d) {
  switch (d) {
    case OffloadDevice::None: return "none";
    case OffloadDevice::Cpu: return "cpu";
    case OffloadDevice::Nvme: return "nvme";
  }
  return "?";
}

namespace config_detail {

namespace {

// Reads one block of a resolved tree; a key that is absent (or null where DeepSpeed's default is
// not) reads as the schema's default. Asking for a key the table does not have is a bug here.
class BlockReader {
 public:
  BlockReader(const json::Value* object, const Block& block) : object_(object), block_(block) {}

  bool boolean(std::string_view key) const {
    const auto [v, spec] = get(key);
    return v != nullptr ? v->as_bool() : spec.dflt.b;
  }
  int64_t integer(std::string_view key) const {
    const auto [v, spec] = get(key);
    return v != nullptr ? v->as_int() : spec.dflt.i;
  }
  double number(std::string_view key) const {
    const auto [v, spec] = get(key);
    return v != nullptr ? v->as_double() : spec.dflt.d;
  }
  std::optional<std::string> string(std::string_view key) const {
    const auto [v, spec] = get(key);
    if (v != nullptr) return v->as_string();
    if (spec.dflt.kind == DefaultValue::Kind::String) return std::string(spec.dflt.s);
    return std::nullopt;
  }
  std::optional<bool> optional_boolean(std::string_view key) const {
    const auto [v, spec] = get(key);
    if (v != nullptr) return v->as_bool();
    return std::nullopt;
  }
  std::optional<int64_t> optional_integer(std::string_view key) const {
    const auto [v, spec] = get(key);
    if (v != nullptr) return v->as_int();
    if (spec.dflt.kind == DefaultValue::Kind::Integer) return spec.dflt.i;
    return std::nullopt;
  }
  // The object under `key`, nullptr if absent or null.
  const json::Value* child(std::string_view key) const {
    const auto [v, spec] = get(key);
    return v != nullptr && v->is_object() ? v : nullptr;
  }

 private:
  std::pair<const json::Value*, const Key&> get(std::string_view key) const {
    const Key* spec = block_.find(key);
    if (spec == nullptr) throw std::logic_error("config schema has no key \"" + std::string(key) + "\"");
    const json::Value* v = object_ != nullptr ? object_->find(key) : nullptr;
    if (v != nullptr && v->is_null()) v = nullptr;
    return {v, *spec};
  }

  const json::Value* object_;
  const Block& block_;
};

OffloadDevice device_of(const std::optional<std::string>& name) {
  if (name == "cpu") return OffloadDevice::Cpu;
  if (name == "nvme") return OffloadDevice::Nvme;
  return OffloadDevice::None;
}

ZeroConfig read_zero(const json::Value* object) {
  const BlockReader z(object, zero_block());
  ZeroConfig c;
  c.stage = static_cast<int>(z.integer("stage"));
  c.contiguous_gradients = z.boolean("contiguous_gradients");
  c.reduce_scatter = z.boolean("reduce_scatter");
  c.reduce_bucket_size = z.integer("reduce_bucket_size");
  c.use_multi_rank_bucket_allreduce = z.boolean("use_multi_rank_bucket_allreduce");
  c.allgather_partitions = z.boolean("allgather_partitions");
  c.allgather_bucket_size = z.integer("allgather_bucket_size");
  c.overlap_comm = z.optional_boolean("overlap_comm").value_or(c.stage == 3);  // DeepSpeed's dynamic default
  c.load_from_fp32_weights = z.boolean("load_from_fp32_weights");
  if (const json::Value* p = z.child("offload_param")) {
    const BlockReader r(p, offload_param_block());
    c.offload_param = OffloadParamConfig{device_of(r.string("device")), r.string("nvme_path"),
                                         r.integer("buffer_count"),  r.integer("buffer_size"),
                                         r.integer("max_in_cpu"),    r.boolean("pin_memory")};
  }
  if (const json::Value* o = z.child("offload_optimizer")) {
    const BlockReader r(o, offload_optimizer_block());
    c.offload_optimizer = OffloadOptimizerConfig{device_of(r.string("device")), r.string("nvme_path"),
                                                 r.integer("buffer_count"),     r.boolean("pin_memory"),
                                                 r.boolean("pipeline_read"),    r.boolean("pipeline_write"),
                                                 r.boolean("fast_init"),        r.number("ratio")};
  }
  c.sub_group_size = z.integer("sub_group_size");
  c.prefetch_bucket_size = z.integer("stage3_prefetch_bucket_size");
  c.param_persistence_threshold = z.integer("stage3_param_persistence_threshold");
  c.model_persistence_threshold = z.integer("stage3_model_persistence_threshold");
  c.max_live_parameters = z.integer("stage3_max_live_parameters");
  c.max_reuse_distance = z.integer("stage3_max_reuse_distance");
  c.gather_16bit_weights_on_model_save = z.boolean("stage3_gather_16bit_weights_on_model_save");
  c.module_granularity_threshold = z.integer("stage3_module_granularity_threshold");
  c.use_all_reduce_for_fetch_params = z.boolean("stage3_use_all_reduce_for_fetch_params");
  c.ignore_unused_parameters = z.boolean("ignore_unused_parameters");
  c.round_robin_gradients = z.boolean("round_robin_gradients");
  return c;
}

// DeepSpeed's loss scaler set-up (runtime/config.py get_loss_scale, get_initial_dynamic_scale,
// get_dynamic_loss_scale_args): fp16 scales (dynamically when loss_scale is 0), bf16 and fp32 do not.
LossScaling loss_scaling(const Fp16Config& fp16) {
  LossScaling s;
  if (!fp16.enabled) return s;  // static 1.0, no scaling
  s.dynamic = fp16.loss_scale == 0.0;
  s.static_scale = s.dynamic ? 1.0 : fp16.loss_scale;
  s.initial_scale = std::ldexp(1.0, static_cast<int>(fp16.initial_scale_power));
  s.window = fp16.loss_scale_window;
  s.hysteresis = fp16.hysteresis;
  s.consecutive_hysteresis = fp16.consecutive_hysteresis;
  s.min_scale = fp16.min_loss_scale;
  return s;
}

std::optional<ModuleBlock> module_block(const json::Value& tree, const char* name) {
  const json::Value* block = tree.find(name);
  if (block == nullptr || !block->is_object()) return std::nullopt;
  ModuleBlock m;
  m.type = block->find("type")->as_string();  // required: validated
  m.type_position = block->find("type")->position();
  const json::Value* params = block->find("params");
  if (params != nullptr && params->is_object()) {
    m.params = *params;
  } else {
    m.params = json::Value::object();
    m.params.set_position(block->position());
    json::assign_paths(m.params, std::string(name) + ".params");
  }
  m.position = block->position();
  m.path = name;
  return m;
}

// tandem.stage_module: "name" or {"type": "name", "params": {...}} (validated by the schema).
std::optional<ModuleBlock> stage_module_block(const json::Value& tree) {
  const json::Value* tandem = tree.find("tandem");
  const json::Value* stage = tandem != nullptr && tandem->is_object() ? tandem->find("stage_module") : nullptr;
  if (stage == nullptr) return std::nullopt;
  if (stage->is_object()) {
    std::optional<ModuleBlock> m = module_block(*tandem, "stage_module");
    m->path = "tandem.stage_module";
    if (stage->find("params") == nullptr) json::assign_paths(m->params, "tandem.stage_module.params");
    return m;
  }
  if (!stage->is_string()) return std::nullopt;  // null: the default stage module
  ModuleBlock m;
  m.type = stage->as_string();
  m.params = json::Value::object();
  m.params.set_position(stage->position());
  json::assign_paths(m.params, "tandem.stage_module.params");
  m.position = stage->position();
  m.type_position = stage->position();
  m.path = "tandem.stage_module";
  return m;
}

}  // namespace

void fill_typed_fields(const json::Value& tree, ResolvedConfig& out) {
  const BlockReader top(&tree, top_level_block());
  out.gradient_clipping = top.number("gradient_clipping");
  out.zero = read_zero(top.child("zero_optimization"));

  const BlockReader fp16(top.child("fp16"), fp16_block());
  out.fp16 = Fp16Config{fp16.boolean("enabled"),
                        fp16.boolean("auto_cast"),
                        fp16.number("loss_scale"),
                        fp16.integer("initial_scale_power"),
                        fp16.integer("loss_scale_window"),
                        fp16.integer("hysteresis"),
                        fp16.boolean("consecutive_hysteresis"),
                        fp16.number("min_loss_scale"),
                        fp16.boolean("fp16_master_weights_and_grads")};
  const BlockReader bf16(top.child("bf16"), bf16_block());
  out.bf16 = Bf16Config{bf16.boolean("enabled"), bf16.boolean("immediate_grad_update")};
  out.loss_scaling = loss_scaling(out.fp16);
  out.precision = out.fp16.enabled ? MixedPrecision::Fp16 : out.bf16.enabled ? MixedPrecision::Bf16 : MixedPrecision::No;

  out.optimizer = module_block(tree, "optimizer");
  out.scheduler = module_block(tree, "scheduler");
  out.stage_module = stage_module_block(tree);
  out.prescale_gradients = top.boolean("prescale_gradients");
  out.gradient_predivide_factor = top.number("gradient_predivide_factor");
  if (auto comm = top.string("communication_data_type")) {
    for (char& c : *comm) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.communication_data_type = std::move(comm);
  }
  out.steps_per_print = top.optional_integer("steps_per_print");
  out.wall_clock_breakdown = top.boolean("wall_clock_breakdown");
  out.zero_allow_untested_optimizer = top.boolean("zero_allow_untested_optimizer");
  out.zero_force_ds_cpu_optimizer = top.boolean("zero_force_ds_cpu_optimizer");
}

}  // namespace config_detail

}  // namespace tandem
