// WarmupLR: DeepSpeed's warm-up schedule (deepspeed/runtime/lr_schedules.py, class WarmupLR).
// lr = min + (max - min) * gamma(it), with W = max(2, warmup_num_steps) and
//   gamma(it) = ln(it + 1) / ln(W)   (warmup_type "log", the default)
//             = it / W               (warmup_type "linear")
//             = 1                    for it >= W;  it < 0 gives lr = min.
#include <cmath>

#include "tandem/scheduler.hpp"

namespace {

const char* const kWarmupTypes[] = {"log", "linear", nullptr};

const tandem_param_spec kParams[] = {
    tandem::sdk::optional_param("warmup_min_lr", TANDEM_PARAM_FLOAT_PER_GROUP, "0.0",
                                "lr at the start of warm-up (one value, or one per group)", 0.0),
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
        warmup_steps_(std::max<int64_t>(2, p.integer("warmup_num_steps"))),
        linear_(p.string("warmup_type") == "linear"),
        start_iteration_(p.integer("last_batch_iteration")) {}

  void bind(std::span<const double> base_lrs, bool has_betas) override {
    Scheduler::bind(base_lrs, has_betas);
    min_lr_ = per_group(min_lr_, "warmup_min_lr");
    max_lr_ = per_group(max_lr_, "warmup_max_lr");
    for (int64_t i = -1; i < start_iteration_; ++i) step();
  }

  void compute(int64_t it, tandem::sdk::ScheduleValues& out) const override {
    const double gamma = warmup_gamma(it);
    for (size_t g = 0; g < out.lrs.size(); ++g) out.lrs[g] = min_lr_[g] + (max_lr_[g] - min_lr_[g]) * gamma;
  }

 private:
  double warmup_gamma(int64_t it) const {
    if (it < 0) return 0.0;
    if (it >= warmup_steps_) return 1.0;
    if (linear_) return static_cast<double>(it) / static_cast<double>(warmup_steps_);
    return std::log(static_cast<double>(it + 1)) / std::log(static_cast<double>(warmup_steps_));
  }

  std::vector<double> min_lr_, max_lr_;
  int64_t warmup_steps_;
  bool linear_;
  int64_t start_iteration_;
};

}  // namespace

TANDEM_SCHEDULER_MODULE(warmup_lr, WarmupLR, "1.0.0", "DeepSpeed WarmupLR: log or linear warm-up to a constant lr",
                        kParams)
