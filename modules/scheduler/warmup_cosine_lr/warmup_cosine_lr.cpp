// WarmupCosineLR: DeepSpeed's warm-up then cosine decay (deepspeed/runtime/lr_schedules.py, class
// WarmupCosineLR). The peak is each group's own lr as the optimizer was configured (DeepSpeed's
// org_lrs, read at construction: here the base_lrs given to bind). With W = max(2, warmup_num_steps),
// T = total_num_steps, wmin = warmup_min_ratio and cmin = cos_min_ratio:
//   lr(it) = base_lr * ratio(it)
//   ratio(it) = wmin + (1 - wmin) * ramp(it)     for 0 <= it < W (ramp: log or linear, as WarmupLR)
//             = max(0, cmin + (1 - cmin) * (1 + cos(pi * (it - W + 1) / (T - W))) / 2)   for it >= W
// So lr(W - 1) = base_lr (log warm-up) and lr(T - 1) = base_lr * cmin.
//
// DeepSpeed's quirks, kept so that a run matches DeepSpeed's engine step for step:
//   - At iteration -1 (construction) DeepSpeed's get_lr() returns the one-element list [0.0], and
//     update_lr zips it with the groups: group 0 gets lr 0, every other group keeps its configured lr.
//     The first optimizer step therefore runs group 0 at 0 and the others at their peak.
//   - No clamp after T: the cosine rises again past T (as in DeepSpeed, where the clamp is only at 0).
//   - T < W is allowed (DeepSpeed warns): the negative T - W flips the cosine's argument, which cos
//     does not mind.
// tandem's decision: T == W is refused when the config is read. DeepSpeed accepts it and then raises
// ZeroDivisionError at iteration W, in the middle of a run; refusing it up front loses nothing.
#include <numbers>

#include "../common/deepspeed_warmup.hpp"
#include "tandem/scheduler.hpp"

namespace {

using tandem_scheduler_common::WarmupType;

const char* const kWarmupTypes[] = {"log", "linear", nullptr};

const tandem_param_spec kParams[] = {
    tandem::sdk::required_param("total_num_steps", TANDEM_PARAM_INT,
                                "optimizer steps of the whole run; the lr reaches lr * cos_min_ratio there", 0.0),
    tandem::sdk::optional_param("warmup_min_ratio", TANDEM_PARAM_FLOAT, "0.0",
                                "fraction of each group's lr at the start of warm-up", 0.0),
    tandem::sdk::optional_param("warmup_num_steps", TANDEM_PARAM_INT, "1000",
                                "optimizer steps of warm-up (at least 2 are used)", 0.0),
    tandem::sdk::optional_param("cos_min_ratio", TANDEM_PARAM_FLOAT, "0.0001",
                                "fraction of each group's lr at the end of the cosine decay"),
    tandem::sdk::optional_param("warmup_type", TANDEM_PARAM_STRING, "\"log\"",
                                "shape of the warm-up: log or linear", -HUGE_VAL, HUGE_VAL, kWarmupTypes),
    tandem::sdk::optional_param("last_batch_iteration", TANDEM_PARAM_INT, "-1",
                                "iteration to start from (-1: the beginning)", -1.0),
};

class WarmupCosineLR final : public tandem::sdk::Scheduler {
 public:
  explicit WarmupCosineLR(const tandem::sdk::Params& p)
      : total_steps_(p.integer("total_num_steps")),
        warmup_min_ratio_(p.number("warmup_min_ratio")),
        warmup_steps_(tandem_scheduler_common::effective_warmup_steps(p.integer("warmup_num_steps"))),
        cos_min_ratio_(p.number("cos_min_ratio")),
        type_(tandem_scheduler_common::parse_warmup_type(p.string("warmup_type"))),
        start_iteration_(p.integer("last_batch_iteration")) {
    if (total_steps_ == warmup_steps_)
      throw std::invalid_argument(
          "total_num_steps (" + std::to_string(total_steps_) +
          ") equals the warm-up length W = max(2, warmup_num_steps) = " + std::to_string(warmup_steps_) +
          ": the cosine phase divides by total_num_steps - W (DeepSpeed fails with ZeroDivisionError at "
          "iteration W); make total_num_steps larger than W");
  }

  void bind(std::span<const double> base_lrs, bool has_betas) override {
    Scheduler::bind(base_lrs, has_betas);
    start_at(start_iteration_);
  }

  void compute(int64_t it, tandem::sdk::ScheduleValues& out) const override {
    const std::span<const double> peak = base_lrs();
    if (it < 0) {
      // DeepSpeed's constructor quirk (see the top of the file): only group 0 is set, to 0.
      for (size_t g = 0; g < out.lrs.size(); ++g) out.lrs[g] = g == 0 ? 0.0 : peak[g];
      return;
    }
    const double r = ratio(it);
    for (size_t g = 0; g < out.lrs.size(); ++g) out.lrs[g] = peak[g] * r;
  }

 private:
  double ratio(int64_t it) const {
    if (it < warmup_steps_) {
      const double ramp = tandem_scheduler_common::warmup_fraction(it, warmup_steps_, type_);
      return warmup_min_ratio_ + ramp * (1.0 - warmup_min_ratio_);
    }
    const double done = static_cast<double>(it - warmup_steps_ + 1);
    const double span = static_cast<double>(total_steps_ - warmup_steps_);
    const double cosine = (1.0 + std::cos(std::numbers::pi * done / span)) / 2.0;
    return std::max(0.0, cos_min_ratio_ + (1.0 - cos_min_ratio_) * cosine);
  }

  int64_t total_steps_;
  double warmup_min_ratio_;
  int64_t warmup_steps_;
  double cos_min_ratio_;
  WarmupType type_;
  int64_t start_iteration_;
};

}  // namespace

TANDEM_SCHEDULER_MODULE(warmup_cosine_lr, WarmupCosineLR, "1.0.0",
                        "DeepSpeed WarmupCosineLR: warm-up to each group's lr, then cosine decay to "
                        "lr * cos_min_ratio at total_num_steps",
                        kParams)
