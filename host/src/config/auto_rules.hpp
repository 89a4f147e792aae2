// How each "auto" is resolved. A rule reads the run's inputs and the (unresolved) config and
// returns either a value with the reason for it, or what would resolve it. Rules never read another
// rule's output from the tree: an input a rule builds on (the optimizer's lr, the ZeRO stage, the
// micro batch) is computed from the config and inputs here, so the order in which "auto" values
// are visited does not matter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schema.hpp"
#include "tandem/config_resolved.hpp"
#include "tandem/json.hpp"

namespace tandem::config_detail {

struct AutoOutcome {
  std::optional<json::Value> value;  // set: resolved to this
  std::string text;                  // resolved: why; unresolved: what would resolve it

  static AutoOutcome resolved(json::Value v, std::string why) { return {std::move(v), std::move(why)}; }
  static AutoOutcome missing(std::string what_would_resolve) { return {std::nullopt, std::move(what_would_resolve)}; }
};

// A value other rules build on, and a phrase saying where it came from.
template <class T>
struct Sourced {
  std::optional<T> value;
  std::string from;
};

class AutoContext {
 public:
  AutoContext(const json::Value& tree, const ResolveInputs& inputs) : tree_(tree), inputs_(inputs) {}

  const ResolveInputs& inputs() const { return inputs_; }
  // A value of the unresolved tree by dotted path; nullptr if absent.
  const json::Value* find(std::string_view dotted) const;

  Sourced<int64_t> zero_stage() const;   // always known: concrete, "auto" -> inputs/2, absent -> 0
  Sourced<int64_t> hidden_size() const;  // inputs only
  Sourced<int64_t> micro_batch() const;  // concrete, or "auto" -> inputs.micro_batch
  Sourced<int64_t> grad_accum() const;   // concrete, or inputs.grad_accum, or 1
  Sourced<double> optimizer_lr() const;  // optimizer.params.lr concrete, or inputs.lr, or 0.001
  // The optimizer's / scheduler's "type" as written ("" if none).
  std::string optimizer_type() const;
  std::string scheduler_type() const;

 private:
  const json::Value& tree_;
  const ResolveInputs& inputs_;
};

// The resolution of an "auto" in a key with no rule of its own: DeepSpeed's default, which is what
// DeepSpeed itself does (its config models drop "auto" values and keep their defaults).
AutoOutcome auto_deepspeed_default(const AutoContext& ctx, const Key& key);

// Rules named by schema.cpp's tables.
AutoOutcome auto_train_batch_size(const AutoContext&, const Key&);
AutoOutcome auto_micro_batch(const AutoContext&, const Key&);
AutoOutcome auto_grad_accum(const AutoContext&, const Key&);
AutoOutcome auto_gradient_clipping(const AutoContext&, const Key&);
AutoOutcome auto_fp16_enabled(const AutoContext&, const Key&);
AutoOutcome auto_bf16_enabled(const AutoContext&, const Key&);
AutoOutcome auto_zero_stage(const AutoContext&, const Key&);
AutoOutcome auto_overlap_comm(const AutoContext&, const Key&);
AutoOutcome auto_reduce_bucket_size(const AutoContext&, const Key&);
AutoOutcome auto_allgather_bucket_size(const AutoContext&, const Key&);
AutoOutcome auto_prefetch_bucket_size(const AutoContext&, const Key&);
AutoOutcome auto_param_persistence_threshold(const AutoContext&, const Key&);
AutoOutcome auto_max_live_or_reuse(const AutoContext&, const Key&);
AutoOutcome auto_gather_16bit_on_save(const AutoContext&, const Key&);
AutoOutcome auto_offload_optimizer_device(const AutoContext&, const Key&);
AutoOutcome auto_offload_param_device(const AutoContext&, const Key&);
AutoOutcome auto_offload_optimizer_nvme_path(const AutoContext&, const Key&);
AutoOutcome auto_offload_param_nvme_path(const AutoContext&, const Key&);

// "auto" inside optimizer.params / scheduler.params (param_rules.cpp): by the module type and the
// param's name. Unknown (type, name) pairs are unresolvable, naming the module.
AutoOutcome auto_optimizer_param(const AutoContext& ctx, std::string_view param);
AutoOutcome auto_scheduler_param(const AutoContext& ctx, std::string_view param);

// Lower-cases and drops '_' and '-', as module names are matched ("WarmupLR" == "warmup_lr").
std::string canonical_type(std::string_view type);

}  // namespace tandem::config_detail
