// WarmupLR: DeepSpeed's warm-up schedule (deepspeed/runtime/lr_schedules.py, class WarmupLR).
// Each group's lr ramps from warmup_min_lr to warmup_max_lr over W = max(2, warmup_num_steps)
// iterations, then stays at warmup_max_lr:
//   lr(it) = min + (max - min) * gamma(it)
//   gamma(it) = ln(it + 1) / ln(W)   for 0 <= it < W, warmup_type "log" (the default)
//             = it / W               for 0 <= it < W, warmup_type "linear"
//             = 1                    for it >= W
// At iteration -1 (construction, before any step) the lr is min, as DeepSpeed's constructor sets it.
#include "../common/deepspeed_warmup.hpp"
#include "tandem/scheduler.hpp"

namespace {

using tandem_scheduler_common::WarmupType;

const char* const kWarmupTypes[] = {"log", "linear", nullptr};

const tandem_param_spec kParams[] = {
    tandem::sdk::optional_param("warmup_min_lr", TANDEM_PARAM_FLOAT_PER_GROUP, "0.0",
                                "lr at the start of warm-up (one value, or one per group)", 0.0),
    // DeepSpeed 0.16.5's default. (Later DeepSpeed versions default to the optimizer's lr instead.)
    tandem::sdk::optional_param("warmup_max_lr", TANDEM_PARAM_FLOAT_PER_GROUP, "0.001",
                                "lr at the end of warm-up (one value, or one per group)", 0.0),
    tandem::sdk::optional_param("warmup_num_steps", TANDEM_PARAM_INT, "1000",
                                "optimizer steps of warm-up (at least 2 are used)", 0.0),
    tandem::sdk::optional_param("warmup_type", TANDEM_PARAM_STRING, "\"log\"",
                                "shape of the warm-up: log or linear", -HUGE_VAL, HUGE_VAL, kWarmupTypes),
    tandem::sdk::optional_param("last_batch_iteration", TANDEM_PARAM_INT, "-1",
                                "iteration to start from (-1: the beginning)", -1.0),
};

class WarmupLR final : public tandem::sdk::Scheduler {
 public:
  explicit WarmupLR(const tandem::sdk::Params& p)
      : min_lr_(p.per_group("warmup_min_lr")),
        max_lr_(p.per_group("warmup_max_lr")),
        warmup_steps_(tandem_scheduler_common::effective_warmup_steps(p.integer("warmup_num_steps"))),
        type_(tandem_scheduler_common::parse_warmup_type(p.string("warmup_type"))),
        start_iteration_(p.integer("last_batch_iteration")) {}

  void bind(std::span<const double> base_lrs, bool has_betas) override {
    Scheduler::bind(base_lrs, has_betas);
    min_lr_ = per_group(min_lr_, "warmup_min_lr");
    max_lr_ = per_group(max_lr_, "warmup_max_lr");
    start_at(start_iteration_);
  }

  void compute(int64_t it, tandem::sdk::ScheduleValues& out) const override {
    const double gamma = warmup_gamma(it);
    for (size_t g = 0; g < out.lrs.size(); ++g) out.lrs[g] = min_lr_[g] + (max_lr_[g] - min_lr_[g]) * gamma;
  }

 private:
  double warmup_gamma(int64_t it) const {
    if (it < 0) return 0.0;  // DeepSpeed's get_lr() before the first step returns the minimum
    if (it >= warmup_steps_) return 1.0;
    return tandem_scheduler_common::warmup_fraction(it, warmup_steps_, type_);
  }

  std::vector<double> min_lr_, max_lr_;
  int64_t warmup_steps_;
  WarmupType type_;
  int64_t start_iteration_;
};

}  // namespace

TANDEM_SCHEDULER_MODULE(warmup_lr, WarmupLR, "1.0.0", "DeepSpeed WarmupLR: log or linear warm-up to a constant lr",
                        kParams)
