// Reference schedules, written from DeepSpeed's formulas (see reference_schedules.hpp). They follow
// DeepSpeed's own order of operations (e.g. WarmupLR multiplies by a precomputed 1 / ln(W)), not the
// modules', so that a shared mistake is unlikely; the comparison tolerance absorbs the last-bit
// differences this gives.
#include "reference_schedules.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

namespace tandem::test {

namespace {

// Python-style keyword arguments: the config's value if present, else DeepSpeed's default.
double kwarg(const json::Value& params, const char* key, double default_value) {
  const json::Value* v = params.find(key);
  return v ? v->as_double() : default_value;
}
int64_t kwarg_int(const json::Value& params, const char* key, int64_t default_value) {
  const json::Value* v = params.find(key);
  return v ? v->as_int() : default_value;
}
bool kwarg_bool(const json::Value& params, const char* key, bool default_value) {
  const json::Value* v = params.find(key);
  return v ? v->as_bool() : default_value;
}
std::string kwarg_string(const json::Value& params, const char* key, const char* default_value) {
  const json::Value* v = params.find(key);
  return v ? v->as_string() : default_value;
}
// DeepSpeed's _format_param: a list is taken as is (one per group), a scalar repeated per group.
std::vector<double> kwarg_groups(const json::Value& params, const char* key, double default_value, size_t groups) {
  const json::Value* v = params.find(key);
  if (v == nullptr) return std::vector<double>(groups, default_value);
  if (!v->is_array()) return std::vector<double>(groups, v->as_double());
  std::vector<double> out;
  for (const json::Value& item : v->items()) out.push_back(item.as_double());
  if (out.size() == 1) out.resize(groups, out[0]);  // tandem's one deviation: [x] is broadcast like x
  return out;
}

// The log/linear warm-up of WarmupLR, WarmupDecayLR and WarmupCosineLR, for 0 <= it < W.
double ramp(const std::string& type, int64_t it, int64_t warmup_num_steps) {
  const double inverse_log_warm_up = 1.0 / std::log(static_cast<double>(warmup_num_steps));
  if (type == "log") return inverse_log_warm_up * std::log(static_cast<double>(it + 1));
  return static_cast<double>(it) / static_cast<double>(warmup_num_steps);
}

SchedulerValues lrs_only(std::vector<double> lrs) { return SchedulerValues{std::move(lrs), std::nullopt, std::nullopt}; }

// WarmupLR and WarmupDecayLR share everything but gamma after the warm-up.
template <class AfterWarmup>
SchedulerValues warmup_family(const json::Value& params, size_t groups, int64_t it, AfterWarmup after_warmup) {
  const std::vector<double> min_lrs = kwarg_groups(params, "warmup_min_lr", 0.0, groups);
  const std::vector<double> max_lrs = kwarg_groups(params, "warmup_max_lr", 0.001, groups);
  const int64_t warmup_num_steps = std::max<int64_t>(2, kwarg_int(params, "warmup_num_steps", 1000));
  const std::string type = kwarg_string(params, "warmup_type", "log");
  if (it < 0) return lrs_only(min_lrs);  // get_lr() before the first step: the minimum
  const double gamma = it < warmup_num_steps ? ramp(type, it, warmup_num_steps) : after_warmup(it, warmup_num_steps);
  std::vector<double> lrs;
  for (size_t g = 0; g < groups; ++g) {
    const double delta_lr = max_lrs[g] - min_lrs[g];
    lrs.push_back(min_lrs[g] + delta_lr * gamma);
  }
  return lrs_only(std::move(lrs));
}

}  // namespace

SchedulerValues reference_warmup_lr(const json::Value& params, std::span<const double> base_lrs, bool,
                                    int64_t it) {
  return warmup_family(params, base_lrs.size(), it, [](int64_t, int64_t) { return 1.0; });
}

SchedulerValues reference_warmup_decay_lr(const json::Value& params, std::span<const double> base_lrs, bool,
                                          int64_t it) {
  const int64_t total_num_steps = params.find("total_num_steps")->as_int();
  return warmup_family(params, base_lrs.size(), it, [&](int64_t i, int64_t warmup_num_steps) {
    return std::max(0.0, static_cast<double>(total_num_steps - i) /
                             std::max(1.0, static_cast<double>(total_num_steps - warmup_num_steps)));
  });
}

SchedulerValues reference_warmup_cosine_lr(const json::Value& params, std::span<const double> base_lrs, bool,
                                           int64_t it) {
  const int64_t total_num_steps = params.find("total_num_steps")->as_int();
  const double warmup_min_ratio = kwarg(params, "warmup_min_ratio", 0.0);
  const int64_t warmup_num_steps = std::max<int64_t>(2, kwarg_int(params, "warmup_num_steps", 1000));
  const double cos_min_ratio = kwarg(params, "cos_min_ratio", 0.0001);
  const std::string type = kwarg_string(params, "warmup_type", "log");
  const std::vector<double> org_lrs(base_lrs.begin(), base_lrs.end());
  if (it < 0) {
    // get_lr() returns [0.0]; update_lr zips it with the groups, so only group 0 changes.
    std::vector<double> lrs = org_lrs;
    lrs[0] = 0.0;
    return lrs_only(std::move(lrs));
  }
  double ratio;
  if (it < warmup_num_steps) {
    ratio = warmup_min_ratio + ramp(type, it, warmup_num_steps) * (1.0 - warmup_min_ratio);
  } else {
    const double real_last_step = static_cast<double>(it - warmup_num_steps + 1);
    const double real_total_steps = static_cast<double>(total_num_steps - warmup_num_steps);
    ratio = (1.0 + std::cos(std::numbers::pi * real_last_step / real_total_steps)) / 2.0;
    ratio = std::max(0.0, cos_min_ratio + (1.0 - cos_min_ratio) * ratio);
  }
  std::vector<double> lrs;
  for (const double org_lr : org_lrs) lrs.push_back(org_lr * ratio);
  return lrs_only(std::move(lrs));
}

SchedulerValues reference_one_cycle(const json::Value& params, std::span<const double> base_lrs, bool has_betas,
                                    int64_t it) {
  const size_t groups = base_lrs.size();
  // _initialize_cycle
  const double first = static_cast<double>(kwarg_int(params, "cycle_first_step_size", 2000));
  const json::Value* second_value = params.find("cycle_second_step_size");
  const double second = second_value && second_value->as_int() != -1 ? second_value->as_double() : first;
  const double total_size = first + second;
  const double step_ratio = first / total_size;
  const double decay_step_size = static_cast<double>(kwarg_int(params, "decay_step_size", 0));
  bool skip_lr_decay = decay_step_size == 0.0;  // math.isclose(x, 0) is x == 0
  bool skip_mom_decay = skip_lr_decay;
  // _initialize_lr
  const std::vector<double> min_lrs = kwarg_groups(params, "cycle_min_lr", 0.0, groups);
  const std::vector<double> max_lrs = kwarg_groups(params, "cycle_max_lr", 0.0, groups);
  const double decay_lr_rate = kwarg(params, "decay_lr_rate", 0.0);
  if (decay_lr_rate == 0.0) skip_lr_decay = true;
  // _initialize_momentum
  const bool cycle_momentum = kwarg_bool(params, "cycle_momentum", true) && has_betas;
  const std::vector<double> min_moms = kwarg_groups(params, "cycle_min_mom", 0.8, groups);
  const std::vector<double> max_moms = kwarg_groups(params, "cycle_max_mom", 0.9, groups);
  const double decay_mom_rate = kwarg(params, "decay_mom_rate", 0.0);
  if (decay_mom_rate == 0.0) skip_mom_decay = true;

  SchedulerValues out{std::vector<double>(groups), std::nullopt, std::nullopt};
  std::vector<double> moms(groups);
  if (it < 0) {
    // The constructor: lr = cycle_min_lr, betas = (cycle_min_mom, 0.99).
    out.lrs = min_lrs;
    moms = min_moms;
  } else if (static_cast<double>(it) < total_size) {
    // _get_scale_factor
    const double batch_iteration = static_cast<double>(it + 1);
    const double cycle = std::floor(1.0 + batch_iteration / total_size);
    const double x = 1.0 + batch_iteration / total_size - cycle;
    const double scale_factor = x <= step_ratio ? x / step_ratio : (x - 1.0) / (step_ratio - 1.0);
    for (size_t g = 0; g < groups; ++g) {
      out.lrs[g] = min_lrs[g] + (max_lrs[g] - min_lrs[g]) * scale_factor;
      moms[g] = max_moms[g] - (max_moms[g] - min_moms[g]) * scale_factor;
    }
  } else {
    const double decay_batch_iteration = static_cast<double>(it) - total_size + 1.0;
    for (size_t g = 0; g < groups; ++g) {
      if (skip_lr_decay) {
        out.lrs[g] = min_lrs[g];
      } else {
        const double decay_interval = decay_batch_iteration / decay_step_size;
        out.lrs[g] = min_lrs[g] / (1.0 + decay_lr_rate * decay_interval);
      }
      if (skip_mom_decay) {
        moms[g] = max_moms[g];
      } else {
        const double decay_interval = decay_batch_iteration / decay_step_size;
        moms[g] = max_moms[g] * (1.0 + decay_mom_rate * decay_interval);
      }
    }
  }
  if (cycle_momentum) {
    out.momenta = moms;
    out.second_betas = std::vector<double>(groups, 0.99);
  }
  return out;
}

SchedulerValues reference_lr_range_test(const json::Value& params, std::span<const double> base_lrs, bool,
                                        int64_t it) {
  const std::vector<double> min_lr = kwarg_groups(params, "lr_range_test_min_lr", 1e-3, base_lrs.size());
  const double step_size = static_cast<double>(kwarg_int(params, "lr_range_test_step_size", 2000));
  const double step_rate = kwarg(params, "lr_range_test_step_rate", 1.0);
  const bool staircase = kwarg_bool(params, "lr_range_test_staircase", false);
  const double continuous = static_cast<double>(it + 1) / step_size;
  const double interval = staircase ? std::floor(continuous) : continuous;
  const double lr_increase = 1.0 + step_rate * interval;
  std::vector<double> lrs;
  for (const double m : min_lr) lrs.push_back(m * lr_increase);
  return lrs_only(std::move(lrs));
}

}  // namespace tandem::test
