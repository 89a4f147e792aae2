// Progress of a run on stderr: a bar redrawn in place on a terminal (loss, lr, tokens/s, ETA), plain
// lines when stderr is not a terminal (every tenth of the run, and at each evaluation). A run of
// several models shows each model's loss, lr and validation loss, named, on one line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tandem {

// One model's numbers of a step; name is empty for a run of one model.
struct ModelProgress {
  std::string name;
  double loss = 0;
  double lr = 0;
  std::optional<double> val_loss;
};

class Progress {
 public:
  Progress(bool enabled, int64_t total_steps);
  void update(int64_t step, double loss, double lr, double tokens_per_s, std::optional<double> val_loss);
  // `tokens_per_s`: of all models together. A validation loss in any model makes it an evaluation step.
  void update(int64_t step, const std::vector<ModelProgress>& models, double tokens_per_s);
  void finish();

 private:
  bool enabled_;
  bool terminal_;
  int64_t total_;
  int64_t first_step_ = -1;
  std::chrono::steady_clock::time_point start_;
  bool drawn_ = false;
};

// "loss 4.1234 lr 0.003" for one model; "a: loss 4.1234 lr 0.003 | b: loss ..." for several, with
// " val_loss X" after a model's numbers when `with_val` and it has one.
std::string progress_losses(const std::vector<ModelProgress>& models, bool with_val);

}  // namespace tandem
