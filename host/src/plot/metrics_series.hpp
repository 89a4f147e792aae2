// The curves `tandem plot` draws, read from metrics files (JSON lines, docs/run-files.md): for each
// file and each metric asked for, the (step, value) points of the lines that have it. A file of a
// multi-model run (lines with "model") gives one curve per model.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tandem::plot {

// Bad input to `tandem plot` (a missing or empty file, a line that is not JSON, an unknown metric):
// the message names the file (and line) and what to do; the CLI exits 2.
struct PlotError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The metrics a plot can show, as the keys of a metrics line.
inline constexpr const char* kMetrics[] = {"loss", "val_loss", "lr", "tokens_per_s"};

struct Series {
  std::string label;   // the run's name (and the model's), shown in the legend
  std::string metric;  // one of kMetrics
  size_t run = 0;      // index of the run (its colour)
  std::vector<std::pair<double, double>> points;  // (step, value), in file order
};

// Throws PlotError for a metric that is not one of kMetrics (with the nearest one).
void check_metric(const std::string& metric);

// The curves of one metrics file. `label` names the run; `run` is its index. A file with no line of
// any of `metrics` is a PlotError ("has no loss values: is it a metrics file?"); null values (a step
// skipped for non-finite gradients) are left out.
std::vector<Series> read_series(const std::filesystem::path& file, const std::string& label, size_t run,
                                const std::vector<std::string>& metrics);

// A run's name for the legend: the file's stem, or its path when two files share a stem.
std::vector<std::string> run_labels(const std::vector<std::filesystem::path>& files);

}  // namespace tandem::plot
