#include "plot/figure_layout.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tandem::plot {

namespace {

constexpr double kLeftMargin = 78, kRightMargin = 24, kTopMargin = 34, kBottomMargin = 46, kGap = 22;

double nice_step(double range, int target) {
  const double raw = range / std::max(1, target);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * power) return m * power;
  return 10 * power;
}

}  // namespace

Axis nice_axis(double lo, double hi, int target) {
  if (!(hi > lo)) {  // one value (or one point): a range around it
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double step = nice_step(hi - lo, target);
  Axis a;
  a.lo = std::floor(lo / step) * step;
  a.hi = std::ceil(hi / step) * step;
  for (double t = a.lo; t <= a.hi + step * 1e-9; t += step) a.ticks.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
  return a;
}

std::string panel_of(const std::string& metric) {
  if (metric == "loss" || metric == "val_loss") return "loss";
  if (metric == "tokens_per_s") return "tokens/s";
  return metric;
}

Figure layout(const std::vector<Series>& series, int width, int height) {
  Figure f;
  f.width = width;
  f.height = height;
  for (size_t i = 0; i < series.size(); ++i) {
    const std::string title = panel_of(series[i].metric);
    auto it = std::find_if(f.panels.begin(), f.panels.end(), [&](const Panel& p) { return p.title == title; });
    if (it == f.panels.end()) {
      f.panels.push_back(Panel{title, {}, {}, {}});
      it = f.panels.end() - 1;
    }
    it->series.push_back(i);
  }
  // The loss panel first, then the others as asked.
  std::stable_partition(f.panels.begin(), f.panels.end(), [](const Panel& p) { return p.title == "loss"; });
  const double n = static_cast<double>(f.panels.size());
  const double each = (height - kTopMargin - kBottomMargin - kGap * (n - 1)) / n;
  // One step axis for all panels, so that a step is one column of the image.
  double x_lo = std::numeric_limits<double>::max(), x_hi = std::numeric_limits<double>::lowest();
  for (const Series& s : series)
    for (const auto& point : s.points) {
      x_lo = std::min(x_lo, point.first);
      x_hi = std::max(x_hi, point.first);
    }
  const Axis x = nice_axis(x_lo, x_hi, 8);
  double top = kTopMargin;
  for (Panel& p : f.panels) {
    double y_lo = std::numeric_limits<double>::max(), y_hi = std::numeric_limits<double>::lowest();
    for (size_t i : p.series)
      for (const auto& point : series[i].points) {
        y_lo = std::min(y_lo, point.second);
        y_hi = std::max(y_hi, point.second);
      }
    p.x = x;
    p.y = nice_axis(y_lo, y_hi, 5);
    p.left = kLeftMargin;
    p.top = top;
    p.width = width - kLeftMargin - kRightMargin;
    p.height = each;
    top += each + kGap;
  }
  return f;
}

}  // namespace tandem::plot
