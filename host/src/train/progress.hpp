// Progress of a run on stderr: a bar redrawn in place on a terminal (loss, lr, tokens/s, ETA), plain
// lines when stderr is not a terminal (every tenth of the run, and at each evaluation).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace tandem {

class Progress {
 public:
  Progress(bool enabled, int64_t total_steps);
  void update(int64_t step, double loss, double lr, double tokens_per_s, std::optional<double> val_loss);
  void finish();

 private:
  bool enabled_;
  bool terminal_;
  int64_t total_;
  int64_t first_step_ = -1;
  std::chrono::steady_clock::time_point start_;
  bool drawn_ = false;
};

}  // namespace tandem
