#include "engine/host_loss.hpp"

#include <algorithm>

namespace tandem {

HostLoss::Sums HostLoss::run(const Request& r, float* dlogits) {
  const size_t rows = static_cast<size_t>(r.rows);
  Sums sums;
  row_losses_.resize(rows);
  compute::cross_entropy_forward(r.logits, r.targets, row_losses_.data(), r.rows, r.vocab);
  for (size_t i = 0; i < rows; ++i) sums.ce += r.targets[i] >= 0 ? row_losses_[i] : 0.0;
  if (dlogits != nullptr) {
    // The backward functions add onto dlogits: start from zero.
    std::fill(dlogits, dlogits + rows * static_cast<size_t>(r.vocab), 0.0f);
    dlosses_.assign(rows, static_cast<float>(r.ce_scale));
    compute::cross_entropy_backward(r.logits, r.targets, dlosses_.data(), dlogits, r.rows, r.vocab);
  }
  if (r.teacher == nullptr) return sums;
  compute::kl_distill_forward(r.logits, r.teacher, row_losses_.data(), r.rows, r.vocab, r.distill);
  for (float v : row_losses_) sums.kl += v;
  if (dlogits != nullptr) {
    std::fill(dlosses_.begin(), dlosses_.end(), static_cast<float>(r.kl_scale));
    compute::kl_distill_backward(r.logits, r.teacher, dlosses_.data(), dlogits, r.rows, r.vocab, r.distill);
  }
  return sums;
}

}  // namespace tandem
