// `tandem plot METRICS.jsonl... -o loss.png`: the runs' curves overlaid, one colour a run (e.g. a
// student distilled and its baseline), drawn by src/plot/ with cairo.
#include <iostream>

#include "cli/cli.hpp"
#include "io/output_path.hpp"
#include "plot/figure_layout.hpp"
#include "plot/metrics_series.hpp"
#include "plot/render_png.hpp"

namespace tandem::cli {

int run_plot(const Args& args) {
  constexpr const char* kUsage =
      "usage: tandem plot METRICS.jsonl [METRICS.jsonl...] -o OUT.png [--metric loss|val_loss|lr|tokens_per_s]...\n"
      "           [--label NAME]... [--width W] [--height H] [--force]\n"
      "Draws the metrics files of `tandem train` / `tandem distill` against step, one colour a run (named by its\n"
      "file), into a PNG: train loss solid and validation loss dashed in one panel, lr and tokens/s in panels of\n"
      "their own. Default metrics: loss and val_loss.";
  std::vector<std::string> files, metrics, names;
  std::string out;
  int width = 900, height = 0;
  po::options_description options("tandem plot");
  options.add_options()("output,o", po::value(&out), "the PNG to write")(
      "metric", po::value(&metrics)->composing(), "loss, val_loss, lr or tokens_per_s (repeatable)")(
      "width", po::value(&width)->default_value(900), "the image's width in pixels")(
      "height", po::value(&height), "the image's height in pixels (default: 540, or 300 a panel for more)")(
      "label", po::value(&names)->composing(), "a run's name in the legend, one per file in order (default: the file's stem)")(
      "force", "replace OUT.png if it exists")("file", po::value(&files), "metrics files");
  po::positional_options_description positional;
  positional.add("file", -1);
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kUsage)) return kExitOk;
  if (files.empty()) throw UsageError(std::string("no metrics file given\n") + kUsage);
  if (out.empty()) throw UsageError(std::string("no -o OUT.png given\n") + kUsage);
  if (metrics.empty()) metrics = {"loss", "val_loss"};
  try {
    for (const std::string& m : metrics) plot::check_metric(m);
    if (width < 200 || width > 8000 || (vm.count("height") && (height < 150 || height > 8000)))
      throw UsageError("--width and --height are pixels: 200..8000 and 150..8000");
    io::check_output_path(out, vm.count("force") > 0, "tandem plot: -o", "--force");
    std::vector<std::filesystem::path> paths(files.begin(), files.end());
    std::vector<std::string> labels = plot::run_labels(paths);
    if (!names.empty() && names.size() != paths.size())
      throw UsageError(std::to_string(names.size()) + " --label for " + std::to_string(paths.size()) +
                       " metrics files: give one a file, in the files' order, or none");
    if (!names.empty()) labels = names;
    std::vector<plot::Series> series;
    for (size_t i = 0; i < paths.size(); ++i) {
      std::vector<plot::Series> run = plot::read_series(paths[i], labels[i], i, metrics);
      series.insert(series.end(), run.begin(), run.end());
    }
    const plot::Figure figure = plot::layout(series, width, 0);
    const int h = vm.count("height") ? height : (figure.panels.size() == 1 ? 540 : 300 * static_cast<int>(figure.panels.size()));
    plot::render_png(plot::layout(series, width, h), series, out);
  } catch (const plot::PlotError& e) {
    std::cerr << "tandem plot: " << e.what() << "\n";
    return kExitBadInput;
  }
  std::cout << "wrote " << out << "\n";
  return kExitOk;
}

}  // namespace tandem::cli
