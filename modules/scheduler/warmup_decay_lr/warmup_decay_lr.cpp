// WarmupDecayLR: DeepSpeed's warm-up then linear decay (deepspeed/runtime/lr_schedules.py, class
// WarmupDecayLR, a WarmupLR with another gamma after the warm-up). With W = max(2, warmup_num_steps)
// and T = total_num_steps:
//   lr(it) = min + (max - min) * gamma(it)
//   gamma(it) = warm-up ramp (log or linear, as WarmupLR)        for 0 <= it < W
//             = max(0, (T - it) / max(1, T - W))                   for it >= W
// At iteration -1 (construction) the lr is min. T <= W is allowed, as in DeepSpeed (which only
// warns when T < warmup_num_steps): the max(1, ...) keeps the division defined and the lr drops to
// min at it = W (T == W) or right after the warm-up (T < W).
#include <algorithm>

#include "../common/warmup_schedule.hpp"

namespace {

const tandem_param_spec kParams[] = {
    tandem::sdk::required_param("total_num_steps", TANDEM_PARAM_INT,
                                "optimizer steps of the whole run; the lr reaches warmup_min_lr there", 0.0),
    TANDEM_WARMUP_PARAMS("lr at the start of warm-up and at the end of the decay (one value, or one per group)"),
};

class WarmupDecayLR final : public tandem_scheduler_common::WarmupSchedule {
 public:
  explicit WarmupDecayLR(const tandem::sdk::Params& p)
      : WarmupSchedule(p), total_steps_(p.integer("total_num_steps")) {}

 private:
  double after_warmup(int64_t it) const override {
    const double remaining = static_cast<double>(total_steps_ - it);
    const double decay_span = std::max(1.0, static_cast<double>(total_steps_ - warmup_steps()));
    return std::max(0.0, remaining / decay_span);
  }

  int64_t total_steps_;
};

}  // namespace

TANDEM_SCHEDULER_MODULE(warmup_decay_lr, WarmupDecayLR, "1.0.0",
                        "DeepSpeed WarmupDecayLR: log or linear warm-up, then linear decay to the minimum at "
                        "total_num_steps",
                        kParams)
