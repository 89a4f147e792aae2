// "auto" inside optimizer.params and scheduler.params. The params belong to the selected module
// (the registry checks them against its schema); tandem resolves "auto" only in the parameters
// DeepSpeed's own optimizers and schedulers define, keyed by the module type:
// - optimizer lr / weight_decay: Accelerate's DummyOptim (lr 0.001, weight_decay 0 unless given);
//   betas / eps: the defaults of the optimizer family (Adam: (0.9, 0.999), 1e-8; ...).
// - WarmupLR and WarmupDecayLR: Accelerate's DummyScheduler rule (warmup_min_lr 0, warmup_max_lr =
//   the optimizer's lr, warmup_num_steps = the warm-up steps, default 0; total_num_steps = the
//   run's total steps). WarmupCosineLR, OneCycle and LRRangeTest get the equivalent rules below.
// Any other "auto" in params is unresolvable, naming the module.
#include <string>

#include "auto_rules.hpp"

namespace tandem::config_detail {

namespace {

std::string s(int64_t v) { return std::to_string(v); }

// ---- optimizers ----

struct OptimizerFamily {
  std::string_view types;  // canonical type names, space-separated
  double beta1, beta2;     // 0: the family has no betas
  double eps;              // 0: no eps
};

constexpr OptimizerFamily kFamilies[] = {
    {"adam adamw fusedadam cpuadam deepspeedcpuadam onebitadam zerooneadam muadam muadamw lamb fusedlamb onebitlamb",
     0.9, 0.999, 1e-8},
    {"lion fusedlion cpulion deepspeedcpulion", 0.9, 0.99, 0.0},
    {"adagrad cpuadagrad deepspeedcpuadagrad", 0.0, 0.0, 1e-10},
    {"sgd musgd", 0.0, 0.0, 0.0},
};

// True if `list` (space-separated) contains `word`.
bool listed(std::string_view list, std::string_view word) {
  while (!list.empty()) {
    const size_t space = list.find(' ');
    if (list.substr(0, space) == word) return true;
    list = space == std::string_view::npos ? std::string_view{} : list.substr(space + 1);
  }
  return false;
}

const OptimizerFamily* family_of(const std::string& canonical) {
  for (const OptimizerFamily& f : kFamilies)
    if (listed(f.types, canonical)) return &f;
  return nullptr;
}

AutoOutcome no_rule(std::string_view block, const std::string& type, std::string_view param) {
  return AutoOutcome::missing("tandem has no rule for \"auto\" in " + std::string(param) + " of " +
                              std::string(block) + " \"" + type +
                              "\": write a value (the module's parameter list gives its meaning and default)");
}

// ---- schedulers ----

using SchedulerRuleFn = AutoOutcome (*)(const AutoContext&);

struct SchedulerParamRule {
  std::string_view types;  // canonical scheduler types, space-separated
  std::string_view param;
  SchedulerRuleFn rule;    // nullptr: `dflt`, DeepSpeed's default for the parameter
  DefaultValue dflt;
};

constexpr DefaultValue dnum(double d) { return {DefaultValue::Kind::Number, false, 0, d, {}}; }
constexpr DefaultValue dint(int64_t i) { return {DefaultValue::Kind::Integer, false, i, 0.0, {}}; }
constexpr DefaultValue dbool(bool b) { return {DefaultValue::Kind::Bool, b, 0, 0.0, {}}; }
constexpr DefaultValue dstr(std::string_view v) { return {DefaultValue::Kind::String, false, 0, 0.0, v}; }
constexpr DefaultValue dnull() { return {DefaultValue::Kind::None, false, 0, 0.0, {}}; }

AutoOutcome warmup_min_lr(const AutoContext&) {
  return AutoOutcome::resolved(json::Value::number(0.0), "0, as Accelerate fills warmup_min_lr");
}

AutoOutcome peak_lr(const AutoContext& ctx) {
  const Sourced<double> lr = ctx.optimizer_lr();
  return AutoOutcome::resolved(json::Value::number(*lr.value),
                               "the optimizer's lr (" + lr.from + "), as Accelerate fills warmup_max_lr");
}

AutoOutcome warmup_steps(const AutoContext& ctx) {
  const auto& in = ctx.inputs();
  if (in.warmup_steps)
    return AutoOutcome::resolved(json::Value::integer(*in.warmup_steps),
                                 "the given warm-up steps " + s(*in.warmup_steps) +
                                     ", as Accelerate fills warmup_num_steps");
  return AutoOutcome::resolved(json::Value::integer(0),
                               "0, Accelerate's DummyScheduler default warm-up (pass --warmup-steps to choose)");
}

// tandem counts total steps as the optimizer steps each rank's scheduler takes. (Accelerate's
// DummyScheduler total is counted on the unsharded data loader, hence its division by the number
// of processes; tandem's --total-steps is already per rank.)
AutoOutcome total_steps(const AutoContext& ctx) {
  const auto& in = ctx.inputs();
  if (in.total_steps)
    return AutoOutcome::resolved(json::Value::integer(*in.total_steps),
                                 "the run's total optimizer steps " + s(*in.total_steps) +
                                     ", as Accelerate fills total_num_steps");
  return AutoOutcome::missing(
      "it is the run's number of optimizer steps and none is known: pass --total-steps, or write an integer");
}

// tandem's rule: OneCycle's peak is the optimizer's lr, as for the warm-up schedules.
AutoOutcome cycle_max_lr(const AutoContext& ctx) {
  const Sourced<double> lr = ctx.optimizer_lr();
  return AutoOutcome::resolved(json::Value::number(*lr.value),
                               "the optimizer's lr (" + lr.from + "), the peak of the cycle");
}

// tandem's rule: the cycle starts at the peak / 25, PyTorch OneCycleLR's default div_factor (a
// start of 0, as for warm-up, would make the first steps no-ops).
AutoOutcome cycle_min_lr(const AutoContext& ctx) {
  const Sourced<double> lr = ctx.optimizer_lr();
  return AutoOutcome::resolved(json::Value::number(*lr.value / 25.0),
                               "the optimizer's lr / 25 (" + lr.from +
                                   "; 25 is PyTorch OneCycleLR's default div_factor)");
}

// tandem's rule: the rising half of the cycle is the warm-up, when one is given.
AutoOutcome cycle_first_step_size(const AutoContext& ctx) {
  const auto& in = ctx.inputs();
  if (in.warmup_steps && *in.warmup_steps > 0)
    return AutoOutcome::resolved(json::Value::integer(*in.warmup_steps),
                                 "the given warm-up steps " + s(*in.warmup_steps) + " (the rising half of the cycle)");
  return AutoOutcome::resolved(json::Value::integer(2000),
                               "DeepSpeed's default 2000 (no warm-up steps given; pass --warmup-steps to choose)");
}

// tandem's rule: the range test starts from the optimizer's lr.
AutoOutcome range_test_min_lr(const AutoContext& ctx) {
  const Sourced<double> lr = ctx.optimizer_lr();
  return AutoOutcome::resolved(json::Value::number(*lr.value),
                               "the optimizer's lr (" + lr.from + "), where the range test starts");
}

constexpr std::string_view kAllDeepSpeedSchedulers = "warmuplr warmupdecaylr warmupcosinelr onecycle lrrangetest";

constexpr SchedulerParamRule kSchedulerRules[] = {
    {"warmuplr warmupdecaylr", "warmup_min_lr", warmup_min_lr, {}},
    {"warmuplr warmupdecaylr", "warmup_max_lr", peak_lr, {}},
    {"warmuplr warmupdecaylr warmupcosinelr", "warmup_num_steps", warmup_steps, {}},
    {"warmuplr warmupdecaylr warmupcosinelr", "warmup_type", nullptr, dstr("log")},
    {"warmupdecaylr warmupcosinelr", "total_num_steps", total_steps, {}},
    {"warmupcosinelr", "warmup_min_ratio", nullptr, dnum(0.0)},
    {"warmupcosinelr", "cos_min_ratio", nullptr, dnum(0.0001)},
    {"onecycle", "cycle_min_lr", cycle_min_lr, {}},
    {"onecycle", "cycle_max_lr", cycle_max_lr, {}},
    {"onecycle", "decay_lr_rate", nullptr, dnum(0.0)},
    {"onecycle", "cycle_first_step_size", cycle_first_step_size, {}},
    {"onecycle", "cycle_second_step_size", nullptr, dnull()},
    {"onecycle", "cycle_first_stair_count", nullptr, dint(0)},
    {"onecycle", "cycle_second_stair_count", nullptr, dnull()},
    {"onecycle", "decay_step_size", nullptr, dint(0)},
    {"onecycle", "cycle_momentum", nullptr, dbool(true)},
    {"onecycle", "cycle_min_mom", nullptr, dnum(0.8)},
    {"onecycle", "cycle_max_mom", nullptr, dnum(0.9)},
    {"onecycle", "decay_mom_rate", nullptr, dnum(0.0)},
    {"lrrangetest", "lr_range_test_min_lr", range_test_min_lr, {}},
    {"lrrangetest", "lr_range_test_step_size", nullptr, dint(2000)},
    {"lrrangetest", "lr_range_test_step_rate", nullptr, dnum(1.0)},
    {"lrrangetest", "lr_range_test_staircase", nullptr, dbool(false)},
    {kAllDeepSpeedSchedulers, "last_batch_iteration", nullptr, dint(-1)},
};

}  // namespace

AutoOutcome auto_optimizer_param(const AutoContext& ctx, std::string_view param) {
  const auto& in = ctx.inputs();
  const std::string type = ctx.optimizer_type();
  if (param == "lr") {
    if (in.lr)
      return AutoOutcome::resolved(json::Value::number(*in.lr), "the given lr " + number_text(*in.lr) +
                                                                    ", as Accelerate fills it from DummyOptim(lr)");
    return AutoOutcome::resolved(json::Value::number(0.001),
                                 "0.001, Accelerate's DummyOptim default lr (pass --lr to choose)");
  }
  if (param == "weight_decay") {
    if (in.weight_decay)
      return AutoOutcome::resolved(json::Value::number(*in.weight_decay),
                                   "the given weight decay " + number_text(*in.weight_decay) +
                                       ", as Accelerate fills it from DummyOptim(weight_decay)");
    return AutoOutcome::resolved(json::Value::number(0.0),
                                 "0, Accelerate's DummyOptim default weight_decay (pass --weight-decay to choose)");
  }
  const OptimizerFamily* family = family_of(canonical_type(type));
  if (family != nullptr && param == "betas" && family->beta1 > 0) {
    json::Value betas = json::Value::array();
    betas.push_back(json::Value::number(family->beta1));
    betas.push_back(json::Value::number(family->beta2));
    return AutoOutcome::resolved(std::move(betas), "the default betas of " + type + " (" +
                                                       number_text(family->beta1) + ", " + number_text(family->beta2) +
                                                       ")");
  }
  if (family != nullptr && param == "eps" && family->eps > 0)
    return AutoOutcome::resolved(json::Value::number(family->eps),
                                 "the default eps of " + type + " (" + number_text(family->eps) + ")");
  return no_rule("optimizer", type, param);
}

AutoOutcome auto_scheduler_param(const AutoContext& ctx, std::string_view param) {
  const std::string type = ctx.scheduler_type();
  const std::string canonical = canonical_type(type);
  for (const SchedulerParamRule& r : kSchedulerRules) {
    if (r.param != param || !listed(r.types, canonical)) continue;
    if (r.rule != nullptr) return r.rule(ctx);
    return AutoOutcome::resolved(r.dflt.to_json(), "DeepSpeed's default for " + type + " " + r.dflt.to_text());
  }
  return no_rule("scheduler", type, param);
}

}  // namespace tandem::config_detail
