// StepDecayLR: the optimizer's lr times gamma once every step_size optimizer steps (PyTorch's
// StepLR). An out-of-tree example of the SDK: it includes only the installed SDK headers.
//   lr(it) = base_lr * gamma ^ floor(max(it, 0) / step_size)
#include <algorithm>
#include <cmath>

#include "tandem/scheduler.hpp"

namespace {

const tandem_param_spec kParams[] = {
    tandem::sdk::optional_param("gamma", TANDEM_PARAM_FLOAT, "0.5", "the factor applied every step_size steps", 0.0,
                                1.0),
    tandem::sdk::optional_param("step_size", TANDEM_PARAM_INT, "10", "optimizer steps between two decays", 1.0),
};

class StepDecayLR final : public tandem::sdk::Scheduler {
 public:
  explicit StepDecayLR(const tandem::sdk::Params& p) : gamma_(p.number("gamma")), step_size_(p.integer("step_size")) {}

  void compute(int64_t iteration, tandem::sdk::ScheduleValues& out) const override {
    // Iteration -1 (before any step) has the base lr, as iteration 0 does.
    const double factor = std::pow(gamma_, static_cast<double>(std::max<int64_t>(iteration, 0) / step_size_));
    const auto base = base_lrs();
    for (size_t g = 0; g < out.lrs.size(); ++g) out.lrs[g] = base[g] * factor;
  }

 private:
  double gamma_;
  int64_t step_size_;
};

}  // namespace

TANDEM_SCHEDULER_MODULE(step_decay_lr, StepDecayLR, "1.0.0", "the optimizer's lr times gamma every step_size steps",
                        kParams)
