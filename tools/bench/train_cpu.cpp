// CPU training throughput of the tiny example's model (4 layers, width 128, 4 heads, byte vocabulary,
// 128-token rows): forward, cross-entropy, backward, clipping and AdamW, through the same engine and
// modules as `tandem train`. Prints one JSON object; tools/bench/train_cpu.sh runs it beside PyTorch
// on the same model, batch and thread count and reports the ratio.
//
//   bench_train_cpu [--threads N] [--ranks R] [--micro-batch B] [--steps S] [--warmup W]
#include <oneapi/tbb/global_control.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "tandem/accelerator.hpp"

int main(int argc, char** argv) {
  int threads = 2, ranks = 1, micro = 16, steps = 30, warmup = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (a == "--threads") threads = v;
    else if (a == "--ranks") ranks = v;
    else if (a == "--micro-batch") micro = v;
    else if (a == "--steps") steps = v;
    else if (a == "--warmup") warmup = v;
    else {
      std::fprintf(stderr, "usage: bench_train_cpu [--threads N] [--ranks R] [--micro-batch B] [--steps S] [--warmup W]\n");
      return 2;
    }
  }
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
  const int64_t seq = 128;
  using namespace tandem;
  PluginSet plugins;
  plugins.add("bench", DeepSpeedPlugin(load_config_text(
                           R"({"train_micro_batch_size_per_gpu": "auto", "gradient_clipping": 1.0,
                               "optimizer": {"type": "AdamW", "params": {"lr": 1e-3, "weight_decay": 0.0}},
                               "zero_optimization": {"stage": 0}})")));
  AcceleratorOptions options;
  options.world_size = ranks;
  Accelerator accelerator(std::move(plugins), options);
  PrepareInputs in;
  in.model = ModelSpec{"gpt",
                       json::parse(R"({"n_layer": 4, "n_head": 4, "n_embd": 128, "vocab_size": 256, "block_size": 128})").root,
                       "<bench>", 1};
  in.micro_batch = micro;
  Prepared prepared = accelerator.prepare(in);
  Engine& engine = *prepared.engine();

  std::mt19937_64 gen(1);
  auto batches = [&] {
    std::vector<TokenBatch> out(static_cast<size_t>(ranks));
    for (TokenBatch& b : out) {
      b.batch = micro;
      b.seq = seq;
      for (int64_t i = 0; i < micro * seq; ++i) {
        b.inputs.push_back(static_cast<int32_t>(gen() % 256));
        b.targets.push_back(static_cast<int32_t>(gen() % 256));
      }
    }
    return out;
  };
  Timings total;
  double seconds = 0;
  for (int s = 0; s < warmup + steps; ++s) {
    const std::vector<TokenBatch> b = batches();
    const auto t0 = std::chrono::steady_clock::now();
    engine.forward(b);
    engine.backward(LossSpec{&b});
    const StepReport r = engine.step();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s >= warmup) {
      seconds += dt;
      total.forward += r.time.forward;
      total.backward += r.time.backward;
      total.communication += r.time.communication;
      total.optimizer += r.time.optimizer;
    }
  }
  const double tokens = static_cast<double>(steps) * ranks * micro * seq;
  std::printf(
      "{\"threads\": %d, \"ranks\": %d, \"micro_batch\": %d, \"seq\": %lld, \"steps\": %d, \"tokens_per_s\": %.1f, "
      "\"ms_per_step\": {\"forward\": %.2f, \"backward\": %.2f, \"communication\": %.2f, \"optimizer\": %.2f}}\n",
      threads, ranks, micro, static_cast<long long>(seq), steps, tokens / seconds, 1e3 * total.forward / steps,
      1e3 * total.backward / steps, 1e3 * total.communication / steps, 1e3 * total.optimizer / steps);
  return 0;
}
