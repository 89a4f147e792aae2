#include "plot/metrics_series.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <string_view>

#include "tandem/json.hpp"
#include "text/near_miss.hpp"

namespace tandem::plot {

void check_metric(const std::string& metric) {
  for (const char* m : kMetrics)
    if (metric == m) return;
  const std::vector<std::string_view> names(std::begin(kMetrics), std::end(kMetrics));
  const std::optional<std::string> near = text::nearest_name(metric, names);
  throw PlotError("--metric " + metric + ": not a metric tandem plots" +
                  (near ? " (did you mean " + *near + "?)" : "") + "; the metrics: loss, val_loss, lr, tokens_per_s");
}

std::vector<Series> read_series(const std::filesystem::path& file, const std::string& label, size_t run,
                                const std::vector<std::string>& metrics) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw PlotError(file.string() + ": no such file (a metrics file to plot)");
  if (!std::filesystem::is_regular_file(file, ec))
    throw PlotError(file.string() + ": not a regular file (a metrics file, JSON lines, to plot)");
  std::ifstream in(file);
  if (!in) throw PlotError(file.string() + ": cannot be read");
  // One curve per (model, metric), in the order first seen.
  std::vector<Series> out;
  std::map<std::pair<std::string, std::string>, size_t> index;
  std::string line;
  size_t line_number = 0, lines = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++lines;
    json::Document doc;
    try {
      doc = json::parse(line, file.string() + ":" + std::to_string(line_number));
    } catch (const json::ParseError& e) {
      // A last line cut short by a run that was killed mid-write: plotted without it.
      if (in.peek() == std::char_traits<char>::eof()) continue;
      throw PlotError(std::string(e.what()) + " (each line of a metrics file is one JSON object)");
    }
    const json::Value* step = doc.root.is_object() ? doc.root.find("step") : nullptr;
    if (step == nullptr || !step->is_number())
      throw PlotError(file.string() + ":" + std::to_string(line_number) +
                      ": a line without a \"step\" number: is this a metrics file of tandem train or distill?");
    const json::Value* model = doc.root.find("model");
    const std::string model_name = model != nullptr && model->is_string() ? model->as_string() : "";
    for (const std::string& metric : metrics) {
      const json::Value* v = doc.root.find(metric);
      if (v == nullptr || !v->is_number()) continue;  // absent, or null for a non-finite value
      const auto key = std::make_pair(model_name, metric);
      auto it = index.find(key);
      if (it == index.end()) {
        it = index.emplace(key, out.size()).first;
        out.push_back(Series{model_name.empty() ? label : label + " " + model_name, metric, run, {}});
      }
      out[it->second].points.emplace_back(step->as_double(), v->as_double());
    }
  }
  if (lines == 0) throw PlotError(file.string() + ": empty: no metrics to plot (did the run write any step?)");
  if (out.empty()) {
    std::string asked;
    for (const std::string& m : metrics) asked += (asked.empty() ? "" : ", ") + m;
    throw PlotError(file.string() + ": has no " + asked + " values: is it a metrics file of tandem train or distill?");
  }
  return out;
}

std::vector<std::string> run_labels(const std::vector<std::filesystem::path>& files) {
  std::vector<std::string> stems, labels;
  for (const auto& f : files) stems.push_back(f.stem().string());
  for (size_t i = 0; i < files.size(); ++i)
    labels.push_back(std::count(stems.begin(), stems.end(), stems[i]) > 1 ? files[i].string() : stems[i]);
  return labels;
}

}  // namespace tandem::plot
