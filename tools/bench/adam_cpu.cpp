// cpu_adamw at the memory-bandwidth limit: one optimizer step over N parameters (default 100M),
// timed beside the machine's own bandwidth measured in the same run (a STREAM-style add, c = a + b
// in fp32, 12 bytes per element, the same threads), so the result reads as a fraction of what the
// memory can do. The module is loaded as a config would load it (the registry, libtandem's module
// directory). Prints one JSON object; tools/bench/adam_cpu.sh puts PyTorch's AdamW beside it.
//
//   bench_adam_cpu [--params N] [--threads T] [--reps R] [--simd auto|avx512|avx2|portable] [--bf16-out]
//
// Bytes per parameter: read p, g, m, v (16) and write p, m, v (12) = 28; with --bf16-out, 30.
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tandem/json.hpp"
#include "tandem/optimizer.hpp"
#include "tandem/registry.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  const size_t n = x.size();
  return n % 2 == 1 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

// Touches every page from the threads that will use it (first touch places pages near them).
template <class T>
void fill(std::vector<T>& x, T value) {
  oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<size_t>(0, x.size(), 1 << 16),
                            [&](const oneapi::tbb::blocked_range<size_t>& r) {
                              for (size_t i = r.begin(); i < r.end(); ++i) x[i] = value;
                            });
}

// STREAM's add over arrays far larger than the caches; median seconds per pass. STREAM counts 12
// bytes per element for c = a + b, but the store to c first reads c's lines (write-allocate), 16
// bytes of traffic; the in-place form a = a + b moves exactly the 12 bytes it counts, like Adam's
// in-place update, and is the fairer bound for it. Both are measured and reported.
struct StreamSeconds {
  double add = 0.0;
  double add_in_place = 0.0;
};

StreamSeconds stream_add_seconds(size_t n, int reps) {
  std::vector<float> a(n), b(n), c(n);
  fill(a, 1.0f);
  fill(b, 2.0f);
  fill(c, 0.0f);
  // Times one pass of body(i) over [0, n).
  const auto pass = [&](auto body) {
    const auto t0 = Clock::now();
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<size_t>(0, n, 1 << 18),
                              [&](const oneapi::tbb::blocked_range<size_t>& r) {
                                for (size_t i = r.begin(); i < r.end(); ++i) body(i);
                              });
    return seconds_since(t0);
  };
  float* __restrict__ pa = a.data();
  float* __restrict__ pb = b.data();
  float* __restrict__ pc = c.data();
  std::vector<double> add, in_place;
  for (int r = 0; r <= reps; ++r) {
    const double t = pass([=](size_t i) { pc[i] = pa[i] + pb[i]; });
    if (r > 0) add.push_back(t);  // the first pass warms up
  }
  for (int r = 0; r <= reps; ++r) {
    const double t = pass([=](size_t i) { pb[i] = pb[i] + pa[i]; });
    if (r > 0) in_place.push_back(t);
  }
  if (c[n / 2] != 3.0f || b[n / 2] != 2.0f + static_cast<float>(reps + 1))
    throw std::runtime_error("stream add computed a wrong sum");
  return StreamSeconds{median(add), median(in_place)};
}

}  // namespace

int main(int argc, char** argv) try {
  namespace po = boost::program_options;
  size_t n = 100'000'000;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  int reps = 5;
  std::string simd = "auto";
  po::options_description options("bench_adam_cpu");
  options.add_options()("help", "this text")("params", po::value(&n), "parameters (default 100M)")(
      "threads", po::value(&threads), "threads (default: all)")("reps", po::value(&reps), "timed steps (median)")(
      "simd", po::value(&simd), "auto, avx512, avx2 or portable")("bf16-out", "also write the bf16 copy (30 B/param)");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  if (n == 0 || threads < 1 || reps < 1) throw std::invalid_argument("--params, --threads and --reps must be >= 1");
  const bool bf16_out = vm.count("bf16-out") > 0;

  oneapi::tbb::global_control limit(oneapi::tbb::global_control::max_allowed_parallelism,
                                    static_cast<size_t>(threads));
  oneapi::tbb::task_arena arena(threads);

  tandem::ModuleRegistry registry;
  registry.scan(tandem::ModuleRegistry::default_search_path());
  const tandem::ModuleInfo& info = registry.get(tandem::ModuleKind::Optimizer, "cpu_adamw");
  const tandem::json::Document params = tandem::json::parse(
      R"({"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01, "simd": ")" + simd + "\"}",
      "<bench params>");
  const auto instance = registry.create(info, &params.root, "<bench params>", "bench.optimizer");
  tandem::sdk::OptimizerClient opt(instance->handle(), &instance->vtable<tandem_optimizer_vtable>());

  double step_s = 0.0;
  StreamSeconds stream;
  arena.execute([&] {
    opt.init_state(n);
    std::vector<float> p(n), g(n);
    std::vector<uint16_t> p16(bf16_out ? n : 0);
    fill(p, 0.5f);
    fill(g, 0.01f);
    if (bf16_out) fill(p16, uint16_t{0});
    const tandem_optimizer_group group{sizeof(tandem_optimizer_group), 0, n,
                                       {sizeof(tandem_optimizer_hparams), 1e-3, 0.9, 0.999, 1e-8, 0.01}};
    tandem_optimizer_step_args a{};
    a.struct_size = sizeof(a);
    a.params = p.data();
    a.grads = g.data();
    a.grad_dtype = TANDEM_DTYPE_F32;
    a.grad_scale = 1.0;
    a.numel = n;
    a.groups = &group;
    a.group_count = 1;
    a.params_bf16 = bf16_out ? p16.data() : nullptr;
    std::vector<double> times;
    for (int r = 0; r <= reps; ++r) {
      a.step = r + 1;
      const auto t0 = Clock::now();
      opt.step(a);
      if (r > 0) times.push_back(seconds_since(t0));  // step 1 warms up (page faults of the state)
    }
    step_s = median(times);
    stream = stream_add_seconds(n, reps);
  });

  const double bytes_per_param = bf16_out ? 30.0 : 28.0;
  const double adam_gbs = bytes_per_param * static_cast<double>(n) / step_s / 1e9;
  const double stream_gbs = 12.0 * static_cast<double>(n) / stream.add / 1e9;
  const double stream_in_place_gbs = 12.0 * static_cast<double>(n) / stream.add_in_place / 1e9;
  const double bound = std::max(stream_gbs, stream_in_place_gbs);
  std::printf(
      "{\"bench\": \"adam_cpu\", \"params\": %zu, \"threads\": %d, \"simd\": \"%s\", \"bf16_out\": %s, "
      "\"step_s\": %.6f, \"params_per_s\": %.4e, \"bytes_per_param\": %.0f, \"gb_s\": %.2f, "
      "\"stream_add_gb_s\": %.2f, \"stream_add_in_place_gb_s\": %.2f, \"fraction_of_bandwidth\": %.3f}\n",
      n, threads, simd.c_str(), bf16_out ? "true" : "false", step_s, static_cast<double>(n) / step_s, bytes_per_param,
      adam_gbs, stream_gbs, stream_in_place_gbs, adam_gbs / bound);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_adam_cpu: %s\n", e.what());
  return 1;
}
