#include "train/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace tandem {

namespace {

std::string duration(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char text[32];
  if (s >= 3600) std::snprintf(text, sizeof text, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else std::snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
  return text;
}

}  // namespace

Progress::Progress(bool enabled, int64_t total_steps)
    : enabled_(enabled), terminal_(::isatty(STDERR_FILENO) != 0), total_(total_steps),
      start_(std::chrono::steady_clock::now()) {}

std::string progress_losses(const std::vector<ModelProgress>& models, bool with_val) {
  std::string text;
  char part[128];
  for (const ModelProgress& m : models) {
    if (!text.empty()) text += " | ";
    if (!m.name.empty()) text += m.name + ": ";
    std::snprintf(part, sizeof part, "loss %.4f lr %.3g", m.loss, m.lr);
    text += part;
    if (with_val && m.val_loss) {
      std::snprintf(part, sizeof part, " val_loss %.4f", *m.val_loss);
      text += part;
    }
  }
  return text;
}

void Progress::update(int64_t step, double loss, double lr, double tokens_per_s, std::optional<double> val_loss) {
  update(step, {ModelProgress{"", loss, lr, val_loss}}, tokens_per_s);
}

void Progress::update(int64_t step, const std::vector<ModelProgress>& models, double tokens_per_s) {
  if (!enabled_) return;
  if (first_step_ < 0) {
    first_step_ = step - 1;
    start_ = std::chrono::steady_clock::now();
  }
  bool evaluated = false;
  for (const ModelProgress& m : models) evaluated = evaluated || m.val_loss.has_value();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t done = step - first_step_;
  const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - step) : 0.0;
  char tail[96];
  std::snprintf(tail, sizeof tail, " %.0f tok/s ETA %s", tokens_per_s, duration(eta).c_str());
  const bool single = models.size() == 1 && models.front().name.empty();
  if (terminal_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * step / std::max<int64_t>(1, total_));
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r[%s] %lld/%lld %s%s ", bar.c_str(), static_cast<long long>(step),
                 static_cast<long long>(total_), progress_losses(models, false).c_str(), tail);
    drawn_ = true;
    if (evaluated) {
      std::string val;
      for (const ModelProgress& m : models)
        if (m.val_loss) {
          char part[96];
          std::snprintf(part, sizeof part, "%s%s%.4f", val.empty() ? "" : ", ",
                        single ? "" : (m.name + " ").c_str(), *m.val_loss);
          val += part;
        }
      std::fprintf(stderr, "\n  step %lld: validation loss %s\n", static_cast<long long>(step), val.c_str());
      drawn_ = false;
    }
  } else if (evaluated || step % std::max<int64_t>(1, total_ / 10) == 0 || step == total_) {
    // One model keeps the line it always had: "step 4/8 loss X lr Y N tok/s ETA T val_loss V".
    std::string line = "step " + std::to_string(step) + "/" + std::to_string(total_) + " " +
                       progress_losses(models, !single) + tail;
    if (single && models.front().val_loss) {
      char part[48];
      std::snprintf(part, sizeof part, " val_loss %.4f", *models.front().val_loss);
      line += part;
    }
    std::fputs((line + "\n").c_str(), stderr);
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_ && terminal_ && drawn_) std::fputc('\n', stderr);
}

}  // namespace tandem
