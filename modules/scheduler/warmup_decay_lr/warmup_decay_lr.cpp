// WarmupDecayLR: DeepSpeed's warm-up then linear decay (deepspeed/runtime/lr_schedules.py, class
// WarmupDecayLR, a WarmupLR with another gamma after the warm-up). With W = max(2, warmup_num_steps)
// and T = total_num_steps:
//   lr(it) = min + (max - min) * gamma(it)
//   gamma(it) = warm-up ramp (log or linear, as WarmupLR)        for 0 <= it < W
//             = max(0, (T - it) / max(1, T - W))                   for it >= W
// At iteration -1 (construction) the lr is min. T <= W is allowed, as in DeepSpeed (which only
// warns when T < warmup_num_steps): the max(1, ...) keeps the division defined and the lr drops to
// min at it = W (T == W) or right after the warm-up (T < W).
#include "../common/deepspeed_warmup.hpp"
#include "tandem/scheduler.hpp"

namespace {

using tandem_scheduler_common::WarmupType;

const char* const kWarmupTypes[] = {"log", "linear", nullptr};

const tandem_param_spec kParams[] = {
    tandem::sdk::required_param("total_num_steps", TANDEM_PARAM_INT,
                                "optimizer steps of the whole run; the lr reaches warmup_min_lr there", 0.0),
    tandem::sdk::optional_param("warmup_min_lr", TANDEM_PARAM_FLOAT_PER_GROUP, "0.0",
                                "lr at the start of warm-up and at the end of the decay (one value, or one per group)",
                                0.0),
    tandem::sdk::optional_param("warmup_max_lr", TANDEM_PARAM_FLOAT_PER_GROUP, "0.001",
                                "lr at the end of warm-up (one value, or one per group)", 0.0),
    tandem::sdk::optional_param("warmup_num_steps", TANDEM_PARAM_INT, "1000",
                                "optimizer steps of warm-up (at least 2 are used)", 0.0),
    tandem::sdk::optional_param("warmup_type", TANDEM_PARAM_STRING, "\"log\"",
                                "shape of the warm-up: log or linear", -HUGE_VAL, HUGE_VAL, kWarmupTypes),
    tandem::sdk::optional_param("last_batch_iteration", TANDEM_PARAM_INT, "-1",
                                "iteration to start from (-1: the beginning)", -1.0),
};

class WarmupDecayLR final : public tandem::sdk::Scheduler {
 public:
  explicit WarmupDecayLR(const tandem::sdk::Params& p)
      : total_steps_(p.integer("total_num_steps")),
        min_lr_(p.per_group("warmup_min_lr")),
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
    const double g = gamma(it);
    for (size_t i = 0; i < out.lrs.size(); ++i) out.lrs[i] = min_lr_[i] + (max_lr_[i] - min_lr_[i]) * g;
  }

 private:
  double gamma(int64_t it) const {
    if (it < 0) return 0.0;  // the value DeepSpeed's constructor sets: the minimum
    if (it < warmup_steps_) return tandem_scheduler_common::warmup_fraction(it, warmup_steps_, type_);
    const double remaining = static_cast<double>(total_steps_ - it);
    const double decay_span = std::max(1.0, static_cast<double>(total_steps_ - warmup_steps_));
    return std::max(0.0, remaining / decay_span);
  }

  int64_t total_steps_;
  std::vector<double> min_lr_, max_lr_;
  int64_t warmup_steps_;
  WarmupType type_;
  int64_t start_iteration_;
};

}  // namespace

TANDEM_SCHEDULER_MODULE(warmup_decay_lr, WarmupDecayLR, "1.0.0",
                        "DeepSpeed WarmupDecayLR: log or linear warm-up, then linear decay to the minimum at "
                        "total_num_steps",
                        kParams)
