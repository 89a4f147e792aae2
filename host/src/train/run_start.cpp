#include "train/run_start.hpp"

#include <cstdio>
#include <iterator>

namespace tandem {

namespace {

// "2.66K", "124M": a parameter count a reader takes in at a glance (the exact one follows it).
std::string short_count(int64_t n) {
  const char* units[] = {"", "K", "M", "B", "T"};
  double v = static_cast<double>(n);
  size_t u = 0;
  while (v >= 1000 && u + 1 < std::size(units)) {
    v /= 1000;
    ++u;
  }
  char text[32];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f%s" : "%.3g%s", v, units[u]);
  return text;
}

}  // namespace

const char* precision_name(const ResolvedConfig& config) {
  switch (config.precision) {
    case MixedPrecision::Bf16: return "bf16";
    case MixedPrecision::Fp16: return "fp16";
    case MixedPrecision::No: break;
  }
  return "fp32";
}

void print_run_start(std::ostream& out, const std::string& command, const std::string& source, int64_t steps,
                     const std::string& device, const std::vector<RunStartModel>& models,
                     const std::filesystem::path& metrics) {
  out << "tandem " << command << ": " << source << ", " << steps << " steps on " << device << "\n";
  for (const RunStartModel& m : models) {
    const Engine& e = *m.engine;
    const ResolvedConfig& c = e.config();
    const int64_t params = e.parameter_count();
    out << "  model \"" << m.name << "\": " << short_count(params) << " parameters (" << params << "); ZeRO-"
        << c.zero.stage << "; " << precision_name(c) << "; offload_optimizer "
        << offload_device_name(c.zero.optimizer_offload_device()) << ", offload_param "
        << offload_device_name(c.zero.param_offload_device()) << (m.frozen ? "; frozen (forward only)" : "") << "\n";
    const int64_t micro = c.batch.micro_batch_per_gpu;
    const int64_t accum = m.grad_accum > 0 ? m.grad_accum : c.batch.gradient_accumulation_steps;
    const int64_t world = e.world_size();
    out << "    tokens per step: " << micro * m.seq * accum * world << " = micro-batch " << micro << " x seq " << m.seq
        << " x grad accum " << accum << " x " << world << " data-parallel rank" << (world == 1 ? "" : "s") << "\n";
    if (!m.frozen)
      out << "    checkpoint_dir: " << (m.checkpoint_dir.empty() ? std::string("none (no checkpoints)") : m.checkpoint_dir.string())
          << "\n";
    if (m.monitors != nullptr && m.monitors->csv().enabled)
      out << "    csv_monitor: " << m.monitors->csv().log_dir.string() << "\n";
    if (m.monitors != nullptr && m.monitors->tensorboard().enabled)
      out << "    tensorboard: " << m.monitors->tensorboard().log_dir.string() << "\n";
  }
  out << "  metrics: " << (metrics.empty() ? std::string("none") : metrics.string()) << std::endl;
}

}  // namespace tandem
