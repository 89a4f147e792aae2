// OneCycle: DeepSpeed's 1Cycle policy (deepspeed/runtime/lr_schedules.py, class OneCycle): one cycle
// of the lr up from cycle_min_lr to cycle_max_lr and back, with the momentum (the optimizer's first
// beta) moving the other way, then an optional decay.
//
// With F = cycle_first_step_size, S = cycle_second_step_size (F if not given), N = F + S and
// r = F / N, at iteration it (all in double, as DeepSpeed computes in Python floats):
//   cycle phase, it < N: b = it + 1, c = floor(1 + b / N), x = 1 + b / N - c,
//     s = x / r if x <= r, else (x - 1) / (r - 1)
//     lr = min_lr + (max_lr - min_lr) * s,   momentum = max_mom - (max_mom - min_mom) * s
//   decay phase, it >= N: d = it - N + 1, k = d / decay_step_size,
//     lr = min_lr / (1 + decay_lr_rate * k),  momentum = max_mom * (1 + decay_mom_rate * k)
//     (lr = min_lr when decay_step_size or decay_lr_rate is 0; momentum = max_mom when
//     decay_step_size or decay_mom_rate is 0: DeepSpeed's math.isclose(v, 0) is v == 0.)
// While momentum is cycled, the second beta is set to 0.99 at every step: DeepSpeed stores the
// betas as (momentum, 0.99) and writes both, overwriting the optimizer's configured beta2.
// Momentum is cycled only if cycle_momentum and the optimizer has betas; DeepSpeed warns and
// turns it off otherwise, tandem turns it off too.
//
// At iteration -1 (construction) DeepSpeed sets lr = min_lr and betas = (cycle_min_mom, 0.99), so
// the first optimizer step runs at the *minimum* momentum although the cycle formula at -1 gives
// the maximum; the next step is already near cycle_max_mom. Kept as DeepSpeed does it.
//
// cycle_first_stair_count and cycle_second_stair_count are accepted and stored but unused, as in
// DeepSpeed, where no code reads them (its docstring promises a staircase it never applies).
//
// tandem's decisions where DeepSpeed fails or is loose:
//   - cycle_first_step_size must be >= 1: with 0, r = 0 and DeepSpeed divides 0 by 0 at iteration
//     N - 1 (ZeroDivisionError in the middle of a run). Refused when the config is read.
//   - cycle_second_step_size: DeepSpeed's default is None (= cycle_first_step_size). ABI 1.0 has no
//     "absent" value, so the default is spelled -1, which means the same; other negatives are refused.
//   - decay_lr_rate and decay_step_size must be >= 0: a negative one can make 1 + decay_lr_rate * k
//     zero, a division by zero in DeepSpeed.
//   - cycle_min_lr, cycle_max_lr, cycle_min_mom and cycle_max_mom take one value per group, as
//     DeepSpeed's docstring says ("float or list"); DeepSpeed's code accepts only a single value
//     and fails at the first step on a list.
#include <cmath>

#include "tandem/scheduler.hpp"

namespace {

const tandem_param_spec kParams[] = {
    tandem::sdk::required_param("cycle_min_lr", TANDEM_PARAM_FLOAT_PER_GROUP,
                                "lr at the start and end of the cycle (one value, or one per group)", 0.0),
    tandem::sdk::required_param("cycle_max_lr", TANDEM_PARAM_FLOAT_PER_GROUP,
                                "lr at the top of the cycle (one value, or one per group)", 0.0),
    tandem::sdk::optional_param("decay_lr_rate", TANDEM_PARAM_FLOAT, "0.0",
                                "after the cycle: lr = cycle_min_lr / (1 + rate * decay intervals)", 0.0),
    tandem::sdk::optional_param("cycle_first_step_size", TANDEM_PARAM_INT, "2000",
                                "optimizer steps of the rising half of the cycle", 1.0),
    tandem::sdk::optional_param("cycle_second_step_size", TANDEM_PARAM_INT, "-1",
                                "optimizer steps of the falling half (-1: as cycle_first_step_size)", -1.0),
    tandem::sdk::optional_param("cycle_first_stair_count", TANDEM_PARAM_INT, "0",
                                "accepted and unused, as in DeepSpeed"),
    tandem::sdk::optional_param("cycle_second_stair_count", TANDEM_PARAM_INT, "-1",
                                "accepted and unused, as in DeepSpeed (-1: as cycle_first_stair_count)"),
    tandem::sdk::optional_param("decay_step_size", TANDEM_PARAM_INT, "0",
                                "optimizer steps per decay interval after the cycle (0: no decay)", 0.0),
    tandem::sdk::optional_param("cycle_momentum", TANDEM_PARAM_BOOL, "true",
                                "cycle the optimizer's first beta inversely to the lr (sets beta2 = 0.99)"),
    tandem::sdk::optional_param("cycle_min_mom", TANDEM_PARAM_FLOAT_PER_GROUP, "0.8",
                                "momentum at the top of the cycle (one value, or one per group)", 0.0, 1.0),
    tandem::sdk::optional_param("cycle_max_mom", TANDEM_PARAM_FLOAT_PER_GROUP, "0.9",
                                "momentum at the start and end of the cycle (one value, or one per group)", 0.0,
                                1.0),
    tandem::sdk::optional_param("decay_mom_rate", TANDEM_PARAM_FLOAT, "0.0",
                                "after the cycle: momentum = cycle_max_mom * (1 + rate * decay intervals)"),
    tandem::sdk::optional_param("last_batch_iteration", TANDEM_PARAM_INT, "-1",
                                "iteration to start from (-1: the beginning)", -1.0),
};

// The beta2 DeepSpeed writes next to every cycled momentum.
constexpr double kSecondBeta = 0.99;

class OneCycle final : public tandem::sdk::Scheduler {
 public:
  explicit OneCycle(const tandem::sdk::Params& p)
      : min_lr_(p.per_group("cycle_min_lr")),
        max_lr_(p.per_group("cycle_max_lr")),
        min_mom_(p.per_group("cycle_min_mom")),
        max_mom_(p.per_group("cycle_max_mom")),
        decay_lr_rate_(p.number("decay_lr_rate")),
        decay_mom_rate_(p.number("decay_mom_rate")),
        decay_step_size_(static_cast<double>(p.integer("decay_step_size"))),
        cycle_momentum_(p.boolean("cycle_momentum")),
        start_iteration_(p.integer("last_batch_iteration")) {
    const int64_t first = p.integer("cycle_first_step_size");
    const int64_t second_given = p.integer("cycle_second_step_size");
    if (first < 1) throw std::invalid_argument("cycle_first_step_size must be at least 1");
    if (second_given < -1)
      throw std::invalid_argument("cycle_second_step_size must be >= 0, or -1 for cycle_first_step_size");
    const double first_size = static_cast<double>(first);
    const double second_size = second_given == -1 ? first_size : static_cast<double>(second_given);
    total_size_ = first_size + second_size;
    step_ratio_ = first_size / total_size_;
    // Stored but never read, exactly like DeepSpeed's first_stair_count / second_stair_count.
    first_stair_count_ = p.integer("cycle_first_stair_count");
    const int64_t second_stairs = p.integer("cycle_second_stair_count");
    second_stair_count_ = second_stairs == -1 ? first_stair_count_ : second_stairs;
  }

  void bind(std::span<const double> base_lrs, bool has_betas) override {
    Scheduler::bind(base_lrs, has_betas);
    min_lr_ = per_group(min_lr_, "cycle_min_lr");
    max_lr_ = per_group(max_lr_, "cycle_max_lr");
    min_mom_ = per_group(min_mom_, "cycle_min_mom");
    max_mom_ = per_group(max_mom_, "cycle_max_mom");
    start_at(start_iteration_);
  }

  void compute(int64_t it, tandem::sdk::ScheduleValues& out) const override {
    const bool momentum = cycle_momentum_ && has_betas();
    out.sets_momentum = momentum;
    out.sets_second_beta = momentum;
    const size_t groups = out.lrs.size();
    if (static_cast<double>(it) < total_size_) {
      const double s = scale_factor(it);
      for (size_t g = 0; g < groups; ++g) {
        out.lrs[g] = min_lr_[g] + (max_lr_[g] - min_lr_[g]) * s;
        if (momentum) out.momenta[g] = max_mom_[g] - (max_mom_[g] - min_mom_[g]) * s;
      }
      // The constructor's betas: (cycle_min_mom, 0.99), not what the formula gives at -1.
      if (momentum && it < 0)
        for (size_t g = 0; g < groups; ++g) out.momenta[g] = min_mom_[g];
    } else {
      const double intervals = decay_step_size_ == 0.0 ? 0.0 : (static_cast<double>(it) - total_size_ + 1.0) /
                                                                   decay_step_size_;
      const bool decay_lr = decay_step_size_ != 0.0 && decay_lr_rate_ != 0.0;
      const bool decay_mom = decay_step_size_ != 0.0 && decay_mom_rate_ != 0.0;
      for (size_t g = 0; g < groups; ++g) {
        out.lrs[g] = decay_lr ? min_lr_[g] / (1.0 + decay_lr_rate_ * intervals) : min_lr_[g];
        if (momentum) out.momenta[g] = decay_mom ? max_mom_[g] * (1.0 + decay_mom_rate_ * intervals) : max_mom_[g];
      }
    }
    if (momentum)
      for (size_t g = 0; g < groups; ++g) out.second_betas[g] = kSecondBeta;
  }

 private:
  // Where iteration `it` is within its cycle, 0 at the ends and 1 at the top.
  double scale_factor(int64_t it) const {
    const double batch = static_cast<double>(it + 1);
    const double cycle = std::floor(1.0 + batch / total_size_);
    const double x = 1.0 + batch / total_size_ - cycle;
    return x <= step_ratio_ ? x / step_ratio_ : (x - 1.0) / (step_ratio_ - 1.0);
  }

  std::vector<double> min_lr_, max_lr_, min_mom_, max_mom_;
  double decay_lr_rate_, decay_mom_rate_, decay_step_size_;
  bool cycle_momentum_;
  int64_t start_iteration_;
  double total_size_ = 0.0, step_ratio_ = 0.0;
  [[maybe_unused]] int64_t first_stair_count_ = 0, second_stair_count_ = 0;
};

}  // namespace

TANDEM_SCHEDULER_MODULE(one_cycle, OneCycle, "1.0.0",
                        "DeepSpeed OneCycle: one lr cycle (momentum inverse), then optional decay", kParams)
