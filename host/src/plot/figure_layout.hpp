// Where `tandem plot` puts things: one panel per quantity (loss and val_loss share the "loss" panel;
// lr and tokens_per_s have one each), stacked, each with axes whose ranges end on "nice" tick values
// (1, 2 or 5 times a power of ten). Kept apart from the drawing so that a test can say which pixel a
// data point lands on.
#pragma once

#include <string>
#include <vector>

#include "plot/metrics_series.hpp"

namespace tandem::plot {

struct Axis {
  double lo = 0, hi = 1;
  std::vector<double> ticks;
};

// An axis over [lo, hi] (a single value gets some room around it) with about `target` ticks.
Axis nice_axis(double lo, double hi, int target = 6);

struct Panel {
  std::string title;              // "loss", "lr", "tokens/s"
  std::vector<size_t> series;     // indices into the figure's series
  Axis x, y;
  double left = 0, top = 0, width = 0, height = 0;  // the plot area, in pixels
  double px(double step) const { return left + (step - x.lo) / (x.hi - x.lo) * width; }
  double py(double value) const { return top + height - (value - y.lo) / (y.hi - y.lo) * height; }
};

struct Figure {
  int width = 0, height = 0;
  std::vector<Panel> panels;
};

// The panel a metric is drawn in.
std::string panel_of(const std::string& metric);

Figure layout(const std::vector<Series>& series, int width, int height);

}  // namespace tandem::plot
