// WarmupLR: DeepSpeed's warm-up schedule (deepspeed/runtime/lr_schedules.py, class WarmupLR).
// Each group's lr ramps from warmup_min_lr to warmup_max_lr over W = max(2, warmup_num_steps)
// iterations, then stays at warmup_max_lr:
//   lr(it) = min + (max - min) * gamma(it)
//   gamma(it) = ln(it + 1) / ln(W)   for 0 <= it < W, warmup_type "log" (the default)
//             = it / W               for 0 <= it < W, warmup_type "linear"
//             = 1                    for it >= W
// At iteration -1 (construction, before any step) the lr is min, as DeepSpeed's constructor sets it.
#include "../common/warmup_schedule.hpp"

namespace {

const tandem_param_spec kParams[] = {
    TANDEM_WARMUP_PARAMS("lr at the start of warm-up (one value, or one per group)"),
};

class WarmupLR final : public tandem_scheduler_common::WarmupSchedule {
 public:
  using WarmupSchedule::WarmupSchedule;

 private:
  double after_warmup(int64_t) const override { return 1.0; }
};

}  // namespace

TANDEM_SCHEDULER_MODULE(warmup_lr, WarmupLR, "1.0.0", "DeepSpeed WarmupLR: log or linear warm-up to a constant lr",
                        kParams)
