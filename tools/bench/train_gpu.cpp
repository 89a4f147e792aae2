// GPU training throughput through the product path (Accelerator, modules, engines, stages), on the
// workloads of ../shared/peers/torch_anchor.py, so that tools/bench/gpu.sh can put the two side by
// side from one run:
//   gpt2     GPT-2 124M (12 x 768, vocabulary 50304, 1024 positions), batch 16 x 1024, bf16, AdamW,
//            ZeRO-2 (one GPU: the stage the students train under)
//   distill  the same student under ZeRO-2 distilled from a frozen GPT-2 350M (24 x 1024, 16 heads)
//            under ZeRO-3, CE + KL; --offload puts the student's optimizer on the host (cpu_adamw)
// Random tokens, as the peer uses. Prints one JSON object: tokens/s, ms per step, the phases of a
// step (device time between events: forward, backward with the loss, gradient reduction, optimizer;
// for distillation the teacher's forward is the rest of the step), peak GPU memory (the allocations'
// high-water mark, as torch.cuda.max_memory_allocated), model FLOP/s and MFU.
//
//   bench_train_gpu --workload gpt2|distill [--offload] [--no-overlap] [--stage N] [--batch B] [--seq T]
//                   [--steps S] [--warmup W] [--peak-tflops F] [--profile-step N]
// Distillation goes through tandem::Distiller with the next batches given, so the teacher's next
// forward is queued while the student steps (on the host when offloaded); --no-overlap runs each
// step's teacher forward at its start instead.
// --profile-step brackets step N (counting the warm-up) with cudaProfilerStart/Stop, for
// tools/device/kernel-profile.sh; that step runs under the profiler, so leave it out of the timings
// (N < W) when the figures matter.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <cuda_profiler_api.h>

#include "tandem/accelerator.hpp"
#include "tandem/distill.hpp"

namespace {

using namespace tandem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string workload = "gpt2";
  bool offload = false;
  bool overlap = true;  // distill: the next teacher forward queued while the student steps (Distiller's next)
  int stage = 2;
  int64_t batch = 16, seq = 1024;
  int steps = 20, warmup = 3;
  int profile_step = -1;
  double peak_tflops = 989.0;  // H100/H200 SXM dense bf16 (the datasheet's; MFU's usual denominator)
};

struct GptShape {
  int64_t layers, width, heads;
};
constexpr GptShape kStudent{12, 768, 12};
constexpr GptShape kTeacher{24, 1024, 16};
constexpr int64_t kVocab = 50304, kPositions = 1024, kTokenRange = 50257;

ModelSpec gpt(const GptShape& g, uint64_t seed) {
  ModelSpec m;
  m.type = "gpt";
  m.params = json::parse("{\"n_layer\": " + std::to_string(g.layers) + ", \"n_head\": " + std::to_string(g.heads) +
                         ", \"n_embd\": " + std::to_string(g.width) + ", \"vocab_size\": " + std::to_string(kVocab) +
                         ", \"block_size\": " + std::to_string(kPositions) + "}")
                 .root;
  m.source = "<bench>";
  m.seed = seed;
  return m;
}

// Parameters that take part in the matrix products: all but the position table (the tied head is wte).
double matmul_params(const GptShape& g) {
  const double c = static_cast<double>(g.width);
  return static_cast<double>(kVocab) * c + static_cast<double>(g.layers) * (12 * c * c + 13 * c) + 2 * c;
}

// Model FLOPs per token (nanoGPT's and llm.c's convention): 2 N per token forward, 6 N to train,
// plus the attention's 2 T C per layer forward (QK^T and PV, halved for causality), 6 T C to train.
double flops_per_token(const GptShape& g, int64_t seq, bool train) {
  const double attention = static_cast<double>(g.layers) * static_cast<double>(seq) * static_cast<double>(g.width);
  return train ? 6 * matmul_params(g) + 6 * attention : 2 * matmul_params(g) + 2 * attention;
}

std::string student_config(const Options& o) {
  std::string zero = "{\"stage\": " + std::to_string(o.stage);
  if (o.offload) zero += ", \"offload_optimizer\": {\"device\": \"cpu\", \"pin_memory\": true}";
  zero += "}";
  return R"({"train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": 1, "gradient_clipping": 1.0,
             "optimizer": {"type": "AdamW", "params": {"lr": 3e-4, "weight_decay": 0.01}},
             "bf16": {"enabled": true}, "zero_optimization": )" +
         zero + "}";
}

constexpr const char* kTeacherConfig =
    R"({"train_micro_batch_size_per_gpu": "auto", "bf16": {"enabled": true}, "zero_optimization": {"stage": 3}})";

std::vector<TokenBatch> random_batches(int64_t batch, int64_t seq, std::mt19937_64& gen) {
  TokenBatch b;
  b.batch = batch;
  b.seq = seq;
  for (int64_t i = 0; i < batch * seq; ++i) {
    b.inputs.push_back(static_cast<int32_t>(gen() % kTokenRange));
    b.targets.push_back(static_cast<int32_t>(gen() % kTokenRange));
  }
  return {b};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--workload") o.workload = value();
    else if (a == "--offload") o.offload = true;
    else if (a == "--no-overlap") o.overlap = false;
    else if (a == "--stage") o.stage = std::stoi(value());
    else if (a == "--batch") o.batch = std::stoll(value());
    else if (a == "--seq") o.seq = std::stoll(value());
    else if (a == "--steps") o.steps = std::stoi(value());
    else if (a == "--warmup") o.warmup = std::stoi(value());
    else if (a == "--peak-tflops") o.peak_tflops = std::stod(value());
    else if (a == "--profile-step") o.profile_step = std::stoi(value());
    else throw std::invalid_argument("unknown option " + a);
  }
  if (o.workload != "gpt2" && o.workload != "distill") throw std::invalid_argument("--workload is gpt2 or distill");
  if (o.steps < 1 || o.warmup < 0 || o.batch < 1 || o.seq < 1 || o.seq > kPositions)
    throw std::invalid_argument("bad --steps, --warmup, --batch or --seq");
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  const bool distill = o.workload == "distill";
  PluginSet plugins;
  plugins.add("student", DeepSpeedPlugin(load_config_text(student_config(o), "<bench student>")));
  if (distill) plugins.add("teacher", DeepSpeedPlugin(load_config_text(kTeacherConfig, "<bench teacher>")));
  AcceleratorOptions options;
  options.device = RunDevice::cuda;
  Accelerator accelerator(std::move(plugins), options);
  accelerator.state().reset_gpu_memory_peak();  // as the peer's reset_peak_memory_stats before its model

  PrepareInputs in;
  in.model = gpt(kStudent, 1);
  in.micro_batch = o.batch;
  Prepared student = accelerator.prepare(in);
  std::optional<Prepared> teacher;
  if (distill) {
    accelerator.select("teacher");
    PrepareInputs t;
    t.model = gpt(kTeacher, 2);
    t.micro_batch = o.batch;
    teacher = accelerator.prepare(t);
  }
  Engine& engine = *student.engine();

  std::optional<Distiller> distiller;
  if (teacher) distiller.emplace(engine, *teacher->engine(), DistillLoss{});

  std::mt19937_64 gen(1);
  std::vector<double> step_s, forward_s, backward_s, reduce_s, optimizer_s;
  double last_loss = 0;
  std::vector<TokenBatch> batches = random_batches(o.batch, o.seq, gen);
  for (int step = 0; step < o.warmup + o.steps; ++step) {
    const std::vector<TokenBatch> next = random_batches(o.batch, o.seq, gen);
    if (step == o.profile_step) cudaProfilerStart();
    const auto t0 = Clock::now();
    StepReport r;
    if (distiller) {  // returns with the step done (its phases are timed)
      r = distiller->step(batches, {engine.micro_steps()}, o.overlap ? &next : nullptr);
    } else {
      engine.forward(batches, true);
      engine.backward(LossSpec{&batches});
      r = engine.step();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (step == o.profile_step) cudaProfilerStop();
    last_loss = r.loss;
    batches = next;
    if (step < o.warmup) continue;
    step_s.push_back(seconds);
    forward_s.push_back(r.time.forward);
    backward_s.push_back(r.time.backward);
    reduce_s.push_back(r.time.communication);
    optimizer_s.push_back(r.time.optimizer);
  }

  const double tokens = static_cast<double>(o.batch * o.seq);
  const double step = median(step_s);
  double flops = tokens * flops_per_token(kStudent, o.seq, true);
  if (distill) flops += tokens * flops_per_token(kTeacher, o.seq, false);
  const double fwd = median(forward_s), bwd = median(backward_s), red = median(reduce_s), opt = median(optimizer_s);
  std::printf(
      "{\"workload\": \"%s%s%s\", \"device\": \"%s\", \"stage\": %d, \"batch\": %lld, \"seq\": %lld, \"steps\": %d,\n"
      " \"step_ms\": %.3f, \"tok_s\": %.0f, \"mem_gb\": %.3f, \"tflops\": %.1f, \"mfu\": %.4f, \"loss\": %.4f,\n"
      " \"phases_ms\": {\"student_forward\": %.3f, \"student_backward_and_loss\": %.3f, \"gradient_reduction\": %.3f, "
      "\"optimizer\": %.3f, \"%s\": %.3f}}\n",
      o.workload.c_str(), o.offload ? "_offload" : "", distill && !o.overlap ? "_no_overlap" : "", accelerator.state().device_description().c_str(), o.stage,
      static_cast<long long>(o.batch), static_cast<long long>(o.seq), o.steps, step * 1e3, tokens / step,
      static_cast<double>(accelerator.state().gpu_memory_peak()) / 1e9, flops / step * 1e-12,
      flops / step * 1e-12 / o.peak_tflops, last_loss, fwd * 1e3, bwd * 1e3, red * 1e3, opt * 1e3,
      distill ? "teacher_forward_and_host" : "host", (step - fwd - bwd - red - opt) * 1e3);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_train_gpu: %s\n", e.what());
  return 1;
}
