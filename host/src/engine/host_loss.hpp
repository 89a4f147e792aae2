// The student's loss on fp32 logits in host memory: the cross-entropy over the tokens that have a
// target and, with a teacher, the distillation KL, with their gradient over the logits. The CPU
// engine and the stand-in GPU both compute it here, so that the stand-in gives the CPU path's bits.
#pragma once

#include <cstdint>
#include <vector>

#include "tandem/compute/losses.hpp"

namespace tandem {

class HostLoss {
 public:
  struct Sums {
    double ce = 0, kl = 0;  // over the rows: CE over those with a target (>= 0), KL over all
  };
  struct Request {
    const float* logits = nullptr;    // [rows, vocab]
    const int32_t* targets = nullptr;  // rows; < 0 ignored
    const float* teacher = nullptr;    // [rows, vocab], or null: no KL
    int64_t rows = 0, vocab = 0;
    compute::Distillation distill;
    double ce_scale = 0, kl_scale = 0;  // each row's weight in the gradient of its CE, its KL
  };

  // dlogits: rows * vocab, overwritten with the gradient; null for the losses only.
  Sums run(const Request& r, float* dlogits);

 private:
  std::vector<float> row_losses_, dlosses_;  // reused from call to call
};

}  // namespace tandem
