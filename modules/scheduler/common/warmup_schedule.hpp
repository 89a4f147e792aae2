// The schedule DeepSpeed's WarmupLR defines and WarmupDecayLR extends (in lr_schedules.py the second
// is a subclass of the first): per group, lr = min + (max - min) * gamma(it), where gamma ramps over the
// warm-up and after_warmup() says what happens next. Header-only, so each module stays a
// self-contained .so that sees only the SDK.
#pragma once

#include <cmath>
#include <vector>

#include "deepspeed_warmup.hpp"
#include "tandem/scheduler.hpp"

namespace tandem_scheduler_common {

inline constexpr const char* kWarmupTypes[] = {"log", "linear", nullptr};

// The parameters both schedules take, as entries of a module's parameter table.
#define TANDEM_WARMUP_PARAMS(MIN_LR_HELP)                                                                      \
  tandem::sdk::optional_param("warmup_min_lr", TANDEM_PARAM_FLOAT_PER_GROUP, "0.0", MIN_LR_HELP, 0.0),        \
      /* DeepSpeed 0.16.5's default. (Later DeepSpeed versions default to the optimizer's lr instead.) */     \
      tandem::sdk::optional_param("warmup_max_lr", TANDEM_PARAM_FLOAT_PER_GROUP, "0.001",                     \
                                  "lr at the end of warm-up (one value, or one per group)", 0.0),             \
      tandem::sdk::optional_param("warmup_num_steps", TANDEM_PARAM_INT, "1000",                               \
                                  "optimizer steps of warm-up (at least 2 are used)", 0.0),                   \
      tandem::sdk::optional_param("warmup_type", TANDEM_PARAM_STRING, "\"log\"",                              \
                                  "shape of the warm-up: log or linear", -HUGE_VAL, HUGE_VAL,                  \
                                  tandem_scheduler_common::kWarmupTypes),                                     \
      tandem::sdk::optional_param("last_batch_iteration", TANDEM_PARAM_INT, "-1",                             \
                                  "iteration to start from (-1: the beginning)", -1.0)

class WarmupSchedule : public tandem::sdk::Scheduler {
 public:
  explicit WarmupSchedule(const tandem::sdk::Params& p)
      : min_lr_(p.per_group("warmup_min_lr")),
        max_lr_(p.per_group("warmup_max_lr")),
        warmup_steps_(effective_warmup_steps(p.integer("warmup_num_steps"))),
        type_(parse_warmup_type(p.string("warmup_type"))),
        start_iteration_(p.integer("last_batch_iteration")) {}

  void bind(std::span<const double> base_lrs, bool has_betas) override {
    Scheduler::bind(base_lrs, has_betas);
    min_lr_ = per_group(min_lr_, "warmup_min_lr");
    max_lr_ = per_group(max_lr_, "warmup_max_lr");
    start_at(start_iteration_);
  }

  void compute(int64_t it, tandem::sdk::ScheduleValues& out) const override {
    const double g = gamma(it);
    for (size_t i = 0; i < out.lrs.size(); ++i) out.lrs[i] = min_lr_[i] + (max_lr_[i] - min_lr_[i]) * g;
  }

 protected:
  // gamma for it >= W.
  virtual double after_warmup(int64_t it) const = 0;
  int64_t warmup_steps() const { return warmup_steps_; }

 private:
  double gamma(int64_t it) const {
    if (it < 0) return 0.0;  // DeepSpeed's get_lr() before the first step returns the minimum
    if (it < warmup_steps_) return warmup_fraction(it, warmup_steps_, type_);
    return after_warmup(it);
  }

  std::vector<double> min_lr_, max_lr_;
  int64_t warmup_steps_;
  WarmupType type_;
  int64_t start_iteration_;
};

}  // namespace tandem_scheduler_common
