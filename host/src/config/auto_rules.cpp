// The rules for "auto" in DeepSpeed's own keys. Where Accelerate fills a key at prepare(), tandem
// does the same (accelerate/accelerator.py _prepare_deepspeed and utils/dataclasses.py
// DeepSpeedPlugin; see deepspeed-semantics.md 1.2, 1.3, 1.6); every other key falls back to
// DeepSpeed's default, which is what DeepSpeed does with an "auto" it is handed (its config models
// drop "auto" values). The few rules of tandem's own say why in a comment.
#include "auto_rules.hpp"

#include <cctype>

#include "tandem/json.hpp"
#include "tree_access.hpp"

namespace tandem::config_detail {

std::string canonical_type(std::string_view type) {
  std::string out;
  for (char c : type)
    if (c != '_' && c != '-') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

namespace {

std::string s(int64_t v) { return std::to_string(v); }

const char* const kNeedHidden =
    "no hidden size is known: pass --hidden-size, prepare with a model that has a hidden size, or write an integer";

}  // namespace

// ---- what rules build on ---------------------------------------------------------------------

const json::Value* AutoContext::find(std::string_view dotted) const { return find_path(tree_, dotted); }

Sourced<int64_t> AutoContext::zero_stage() const {
  const json::Value* stage = find("zero_optimization.stage");
  if (stage != nullptr && stage->is_auto()) {
    if (inputs_.zero_stage) return {*inputs_.zero_stage, "the given ZeRO stage " + s(*inputs_.zero_stage)};
    return {2, "Accelerate's default ZeRO stage 2"};
  }
  const std::optional<int64_t> stated = stated_zero_stage(tree_);
  return {stated.value_or(0), "zero_optimization.stage = " + s(stated.value_or(0))};
}

Sourced<int64_t> AutoContext::hidden_size() const {
  if (inputs_.hidden_size) return {*inputs_.hidden_size, "hidden_size " + s(*inputs_.hidden_size)};
  return {std::nullopt, kNeedHidden};
}

Sourced<int64_t> AutoContext::micro_batch() const {
  const json::Value* micro = find("train_micro_batch_size_per_gpu");
  if (micro == nullptr || micro->is_null())
    return {std::nullopt,
            "the config has no train_micro_batch_size_per_gpu: write train_batch_size, or give "
            "train_micro_batch_size_per_gpu (\"auto\" takes it from the data)"};
  if (!micro->is_auto()) return {micro->as_int(), "train_micro_batch_size_per_gpu " + s(micro->as_int())};
  if (inputs_.micro_batch) return {*inputs_.micro_batch, "micro batch " + s(*inputs_.micro_batch) + " from the data"};
  return {std::nullopt,
          "the micro batch comes from the data and none is known: pass --micro-batch, prepare with a data "
          "loader, or write an integer"};
}

Sourced<int64_t> AutoContext::grad_accum() const {
  const json::Value* gas = find("gradient_accumulation_steps");
  if (gas != nullptr && gas->is_integral()) return {gas->as_int(), "gradient_accumulation_steps " + s(gas->as_int())};
  if (inputs_.grad_accum) return {*inputs_.grad_accum, "gradient accumulation " + s(*inputs_.grad_accum)};
  return {1, "Accelerate's default gradient accumulation 1"};
}

Sourced<double> AutoContext::optimizer_lr() const {
  const json::Value* lr = find("optimizer.params.lr");
  if (lr != nullptr && lr->is_number()) return {lr->as_double(), "optimizer.params.lr = " + number_text(lr->as_double())};
  if (inputs_.lr) return {*inputs_.lr, "the given lr " + number_text(*inputs_.lr)};
  return {0.001, "Accelerate's DummyOptim default lr 0.001; pass --lr to choose"};
}

std::string AutoContext::optimizer_type() const {
  const json::Value* t = find("optimizer.type");
  return t != nullptr && t->is_string() ? t->as_string() : "";
}

std::string AutoContext::scheduler_type() const {
  const json::Value* t = find("scheduler.type");
  return t != nullptr && t->is_string() ? t->as_string() : "";
}

// ---- the rules -------------------------------------------------------------------------------

AutoOutcome auto_deepspeed_default(const AutoContext&, const Key& key) {
  if (key.dflt.kind == DefaultValue::Kind::Required)
    return AutoOutcome::missing(std::string(key.name).append(" has no default: write a value"));
  return AutoOutcome::resolved(key.dflt.to_json(), "DeepSpeed's default " + key.dflt.to_text() +
                                                       " (DeepSpeed itself drops \"auto\" and keeps its default)");
}

// Batch keys (Accelerate's _prepare_deepspeed: micro batch from the data loader, train batch from it).
AutoOutcome auto_train_batch_size(const AutoContext& ctx, const Key&) {
  const Sourced<int64_t> micro = ctx.micro_batch();
  if (!micro.value)
    return AutoOutcome::missing("train_batch_size is train_micro_batch_size_per_gpu * gradient_accumulation_steps "
                                "* world_size, and " + micro.from);
  const Sourced<int64_t> gas = ctx.grad_accum();
  const int64_t world = ctx.inputs().world_size;
  int64_t product = 0, partial = 0;
  if (__builtin_mul_overflow(*micro.value, *gas.value, &partial) || __builtin_mul_overflow(partial, world, &product))
    return AutoOutcome::missing("micro batch * gradient accumulation * world size does not fit in 64 bits");
  return AutoOutcome::resolved(json::Value::integer(product),
                               "micro batch * gradient accumulation * world size = " + s(*micro.value) + " * " +
                                   s(*gas.value) + " * " + s(world) + " (" + micro.from + ", " + gas.from +
                                   "), as Accelerate fills train_batch_size");
}

AutoOutcome auto_micro_batch(const AutoContext& ctx, const Key&) {
  const Sourced<int64_t> micro = ctx.micro_batch();
  if (!micro.value) return AutoOutcome::missing(micro.from);
  return AutoOutcome::resolved(json::Value::integer(*micro.value),
                               "the data's batch size per rank (" + micro.from +
                                   "), as Accelerate takes it from the data loader");
}

AutoOutcome auto_grad_accum(const AutoContext& ctx, const Key&) {
  const auto& in = ctx.inputs();
  if (in.grad_accum)
    return AutoOutcome::resolved(json::Value::integer(*in.grad_accum),
                                 "the run's gradient accumulation " + s(*in.grad_accum) +
                                     ", as Accelerate fills gradient_accumulation_steps");
  return AutoOutcome::resolved(json::Value::integer(1),
                               "1, Accelerate's default gradient accumulation (pass --grad-accum to choose)");
}

AutoOutcome auto_gradient_clipping(const AutoContext& ctx, const Key&) {
  const auto& in = ctx.inputs();
  if (in.gradient_clipping)
    return AutoOutcome::resolved(json::Value::number(*in.gradient_clipping),
                                 "the given gradient clipping " + number_text(*in.gradient_clipping));
  return AutoOutcome::resolved(json::Value::number(1.0),
                               "1.0, the value Accelerate fills gradient_clipping with at prepare");
}

// fp16/bf16 "enabled": from the mixed precision, as DeepSpeedPlugin.set_mixed_precision fills them.
namespace {
AutoOutcome precision_enabled(const AutoContext& ctx, MixedPrecision which, const char* block) {
  const MixedPrecision mp = ctx.inputs().mixed_precision;
  return AutoOutcome::resolved(json::Value::boolean(mp == which),
                               "mixed precision \"" + std::string(mixed_precision_name(mp)) + "\"" +
                                   (mp == MixedPrecision::No ? " (the default)" : "") + ", as Accelerate sets " +
                                   block + ".enabled from its mixed_precision");
}
}  // namespace

AutoOutcome auto_fp16_enabled(const AutoContext& ctx, const Key&) {
  return precision_enabled(ctx, MixedPrecision::Fp16, "fp16");
}
AutoOutcome auto_bf16_enabled(const AutoContext& ctx, const Key&) {
  return precision_enabled(ctx, MixedPrecision::Bf16, "bf16");
}

AutoOutcome auto_zero_stage(const AutoContext& ctx, const Key&) {
  const Sourced<int64_t> stage = ctx.zero_stage();
  return AutoOutcome::resolved(json::Value::integer(*stage.value),
                               stage.from + ", as Accelerate fills zero_optimization.stage from its plugin");
}

AutoOutcome auto_overlap_comm(const AutoContext& ctx, const Key&) {
  const Sourced<int64_t> stage = ctx.zero_stage();
  return AutoOutcome::resolved(json::Value::boolean(*stage.value == 3),
                               "DeepSpeed's default for ZeRO stage " + s(*stage.value) +
                                   " (true only for stage 3; " + stage.from + ")");
}

// Bucket sizes and thresholds from the hidden size h (Accelerate: model.config.hidden_size).
AutoOutcome auto_reduce_bucket_size(const AutoContext& ctx, const Key&) {
  const Sourced<int64_t> h = ctx.hidden_size();
  if (!h.value) return AutoOutcome::missing("it is hidden_size^2 and " + h.from);
  return AutoOutcome::resolved(json::Value::integer(*h.value * *h.value),
                               "hidden_size^2 = " + s(*h.value) + "*" + s(*h.value) +
                                   ", as Accelerate fills reduce_bucket_size");
}

// tandem's rule. Accelerate has none; DeepSpeed would keep its default 5e8. The all-gather bucket
// plays the role for updated parameters that the reduce bucket plays for gradients, so it is sized
// the same way (one hidden x hidden weight), rounded up to a multiple of 2 because ZeRO 1/2 assert
// that alignment. Without a hidden size, DeepSpeed's default is a safe fallback (it only bounds
// memory), unlike reduce_bucket_size whose "auto" Accelerate ties to the model.
AutoOutcome auto_allgather_bucket_size(const AutoContext& ctx, const Key& key) {
  const Sourced<int64_t> h = ctx.hidden_size();
  if (!h.value)
    return AutoOutcome::resolved(key.dflt.to_json(), "DeepSpeed's default " + key.dflt.to_text() +
                                                         " (no hidden size is known; with one, tandem uses "
                                                         "hidden_size^2 rounded up to a multiple of 2)");
  const int64_t square = *h.value * *h.value;
  const int64_t even = square + square % 2;
  return AutoOutcome::resolved(json::Value::integer(even),
                               "hidden_size^2 = " + s(*h.value) + "*" + s(*h.value) +
                                   (even != square ? " rounded up to a multiple of 2" : "") +
                                   " (tandem sizes the all-gather bucket as Accelerate sizes the reduce bucket; "
                                   "ZeRO 1/2 need a multiple of 2)");
}

AutoOutcome auto_prefetch_bucket_size(const AutoContext& ctx, const Key&) {
  const Sourced<int64_t> h = ctx.hidden_size();
  if (!h.value) return AutoOutcome::missing("it is int(0.9 * hidden_size^2) and " + h.from);
  // Python evaluates 0.9 * h * h left to right in doubles and int() truncates: do the same.
  const double product = (0.9 * static_cast<double>(*h.value)) * static_cast<double>(*h.value);
  return AutoOutcome::resolved(json::Value::integer(static_cast<int64_t>(product)),
                               "int(0.9 * hidden_size^2) = int(0.9*" + s(*h.value) + "*" + s(*h.value) +
                                   "), as Accelerate fills stage3_prefetch_bucket_size");
}

AutoOutcome auto_param_persistence_threshold(const AutoContext& ctx, const Key&) {
  const Sourced<int64_t> h = ctx.hidden_size();
  if (!h.value) return AutoOutcome::missing("it is 10 * hidden_size and " + h.from);
  return AutoOutcome::resolved(json::Value::integer(10 * *h.value),
                               "10 * hidden_size = 10*" + s(*h.value) +
                                   ", as Accelerate fills stage3_param_persistence_threshold");
}

// tandem's rule for the two ZeRO-3 limits Accelerate cannot fill (its docs' teacher config has them
// as "auto" and Accelerate's prepare rejects that). Both bound how many gathered elements stay
// resident, a memory limit rather than a model property: the hidden size alone does not say how
// much memory a rank can spare, so DeepSpeed's default is kept, as DeepSpeed itself does with "auto".
AutoOutcome auto_max_live_or_reuse(const AutoContext&, const Key& key) {
  return AutoOutcome::resolved(key.dflt.to_json(),
                               "DeepSpeed's default " + key.dflt.to_text() +
                                   " elements (a memory bound the model does not determine; DeepSpeed drops "
                                   "\"auto\" and keeps it, where Accelerate rejects it)");
}

AutoOutcome auto_gather_16bit_on_save(const AutoContext& ctx, const Key&) {
  const auto& in = ctx.inputs();
  if (in.zero3_save_16bit_model)
    return AutoOutcome::resolved(json::Value::boolean(*in.zero3_save_16bit_model),
                                 "the given zero3_save_16bit_model, as Accelerate fills it from its plugin");
  return AutoOutcome::resolved(json::Value::boolean(false),
                               "false, Accelerate's default (zero3_save_16bit_model off)");
}

namespace {
AutoOutcome plugin_string(const std::optional<std::string>& given, const char* field, json::Value fallback,
                          const char* fallback_text) {
  if (given)
    return AutoOutcome::resolved(json::Value::string(*given),
                                 std::string("the given ") + field + ", as Accelerate fills it from its plugin");
  return AutoOutcome::resolved(std::move(fallback), std::string(fallback_text) + ", Accelerate's default " + field);
}
}  // namespace

AutoOutcome auto_offload_optimizer_device(const AutoContext& ctx, const Key&) {
  return plugin_string(ctx.inputs().offload_optimizer_device, "offload_optimizer_device", json::Value::string("none"),
                       "\"none\"");
}
AutoOutcome auto_offload_param_device(const AutoContext& ctx, const Key&) {
  return plugin_string(ctx.inputs().offload_param_device, "offload_param_device", json::Value::string("none"),
                       "\"none\"");
}
AutoOutcome auto_offload_optimizer_nvme_path(const AutoContext& ctx, const Key&) {
  return plugin_string(ctx.inputs().offload_optimizer_nvme_path, "offload_optimizer_nvme_path", json::Value::null(),
                       "null (no NVMe path)");
}
AutoOutcome auto_offload_param_nvme_path(const AutoContext& ctx, const Key&) {
  return plugin_string(ctx.inputs().offload_param_nvme_path, "offload_param_nvme_path", json::Value::null(),
                       "null (no NVMe path)");
}

}  // namespace tandem::config_detail
