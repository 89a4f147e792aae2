// LRRangeTest: DeepSpeed's learning-rate range test (deepspeed/runtime/lr_schedules.py, class
// LRRangeTest): the lr grows from lr_range_test_min_lr without bound, to find the largest lr that
// still trains.
//   interval(it) = (it + 1) / step_size           continuous (the default)
//                = floor((it + 1) / step_size)    lr_range_test_staircase: plateaus of step_size steps
//   lr(it) = min_lr * (1 + step_rate * interval(it))
// At iteration -1 (construction) interval is 0 and lr = min_lr, which is also what DeepSpeed's
// constructor sets.
//
// tandem's decision: lr_range_test_step_size must be >= 1 (refused when the config is read);
// DeepSpeed accepts 0 and fails with ZeroDivisionError at the first step.
#include <cmath>

#include "tandem/scheduler.hpp"

namespace {

const tandem_param_spec kParams[] = {
    tandem::sdk::optional_param("lr_range_test_min_lr", TANDEM_PARAM_FLOAT_PER_GROUP, "0.001",
                                "lr at the start of the test (one value, or one per group)", 0.0),
    tandem::sdk::optional_param("lr_range_test_step_size", TANDEM_PARAM_INT, "2000",
                                "optimizer steps per unit of increase", 1.0),
    tandem::sdk::optional_param("lr_range_test_step_rate", TANDEM_PARAM_FLOAT, "1.0",
                                "increase of the lr, in multiples of the minimum, per step_size steps"),
    tandem::sdk::optional_param("lr_range_test_staircase", TANDEM_PARAM_BOOL, "false",
                                "raise the lr in plateaus of step_size steps instead of continuously"),
    tandem::sdk::optional_param("last_batch_iteration", TANDEM_PARAM_INT, "-1",
                                "iteration to start from (-1: the beginning)", -1.0),
};

class LRRangeTest final : public tandem::sdk::Scheduler {
 public:
  explicit LRRangeTest(const tandem::sdk::Params& p)
      : min_lr_(p.per_group("lr_range_test_min_lr")),
        step_size_(p.integer("lr_range_test_step_size")),
        step_rate_(p.number("lr_range_test_step_rate")),
        staircase_(p.boolean("lr_range_test_staircase")),
        start_iteration_(p.integer("last_batch_iteration")) {
    if (step_size_ < 1) throw std::invalid_argument("lr_range_test_step_size must be at least 1");
  }

  void bind(std::span<const double> base_lrs, bool has_betas) override {
    Scheduler::bind(base_lrs, has_betas);
    min_lr_ = per_group(min_lr_, "lr_range_test_min_lr");
    start_at(start_iteration_);
  }

  void compute(int64_t it, tandem::sdk::ScheduleValues& out) const override {
    const double increase = 1.0 + step_rate_ * interval(it);
    for (size_t g = 0; g < out.lrs.size(); ++g) out.lrs[g] = min_lr_[g] * increase;
  }

 private:
  double interval(int64_t it) const {
    const double steps = static_cast<double>(it + 1) / static_cast<double>(step_size_);
    return staircase_ ? std::floor(steps) : steps;
  }

  std::vector<double> min_lr_;
  int64_t step_size_;
  double step_rate_;
  bool staircase_;
  int64_t start_iteration_;
};

}  // namespace

TANDEM_SCHEDULER_MODULE(lr_range_test, LRRangeTest, "1.0.0",
                        "DeepSpeed LRRangeTest: lr grows linearly (or in plateaus) from a minimum", kParams)
