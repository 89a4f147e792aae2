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

void Progress::update(int64_t step, double loss, double lr, double tokens_per_s, std::optional<double> val_loss) {
  if (!enabled_) return;
  if (first_step_ < 0) {
    first_step_ = step - 1;
    start_ = std::chrono::steady_clock::now();
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t done = step - first_step_;
  const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - step) : 0.0;
  char line[256];
  if (terminal_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * step / std::max<int64_t>(1, total_));
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::snprintf(line, sizeof line, "\r[%s] %lld/%lld loss %.4f lr %.3g %.0f tok/s ETA %s ", bar.c_str(),
                  static_cast<long long>(step), static_cast<long long>(total_), loss, lr, tokens_per_s,
                  duration(eta).c_str());
    std::fputs(line, stderr);
    drawn_ = true;
    if (val_loss) {
      std::fprintf(stderr, "\n  step %lld: validation loss %.4f\n", static_cast<long long>(step), *val_loss);
      drawn_ = false;
    }
  } else if (val_loss || step % std::max<int64_t>(1, total_ / 10) == 0 || step == total_) {
    std::snprintf(line, sizeof line, "step %lld/%lld loss %.4f lr %.3g %.0f tok/s ETA %s", static_cast<long long>(step),
                  static_cast<long long>(total_), loss, lr, tokens_per_s, duration(eta).c_str());
    std::fputs(line, stderr);
    if (val_loss) std::fprintf(stderr, " val_loss %.4f", *val_loss);
    std::fputc('\n', stderr);
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_ && terminal_ && drawn_) std::fputc('\n', stderr);
}

}  // namespace tandem
