// The memory check before a run builds its models (run_memory.hpp).
#include "estimate/run_memory.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "io/human_size.hpp"
#include "tandem/estimate.hpp"

namespace tandem {

namespace {

constexpr double kFloatBytes = 4;  // the CPU model's activations are fp32

uint64_t saturate(double bytes) {
  return bytes >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(std::max(0.0, bytes));
}

std::optional<int64_t> int_param(const json::Value& params, const char* key, int64_t fallback) {
  const json::Value* v = params.find(key);
  if (v == nullptr) return fallback;
  if (!v->is_int() || v->as_int() < 1) return std::nullopt;  // the module refuses it by name
  return v->as_int();
}

bool offloaded(const DeepSpeedConfig& config, const char* path) {
  const json::Value* v = config.find(path);
  return v != nullptr && v->is_string() && (v->as_string() == "cpu" || v->as_string() == "nvme");
}

bool enabled(const DeepSpeedConfig& config, const char* path) {
  const json::Value* v = config.find(path);
  return v != nullptr && v->is_bool() && v->as_bool();
}

// The value in kB of a "Key:   N kB" line of a /proc file.
std::optional<uint64_t> proc_kb(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream fields(line.substr(key.size() + 1));
      uint64_t kb = 0;
      if (fields >> kb) return kb * 1024;
    }
  return std::nullopt;
}

std::optional<uint64_t> read_number(const std::string& file) {
  std::ifstream in(file);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void add_rlimit(std::vector<MemoryBound>& out, int resource, const char* name, const char* in_use_key) {
  rlimit limit{};
  if (::getrlimit(resource, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
  const uint64_t cap = limit.rlim_cur;
  const uint64_t used = proc_kb("/proc/self/status", in_use_key).value_or(0);
  out.push_back({cap > used ? cap - used : 0,
                 std::string(name) + " " + io::human_size(cap) + " less the " + io::human_size(used) +
                     " this process already maps"});
}

void add_cgroups(std::vector<MemoryBound>& out) {
  std::ifstream in("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  if (path.empty()) return;
  // The process's own cgroup and every parent: any of them may hold the limit.
  for (std::filesystem::path dir = std::filesystem::path("/sys/fs/cgroup") / path.substr(1);;) {
    if (const std::optional<uint64_t> max = read_number((dir / "memory.max").string())) {
      const uint64_t current = read_number((dir / "memory.current").string()).value_or(0);
      out.push_back({*max > current ? *max - current : 0, "the cgroup's memory.max (" + dir.string() + ") " +
                                                             io::human_size(*max) + " less its " +
                                                             io::human_size(current) + " in use"});
    }
    if (dir == "/sys/fs/cgroup" || !dir.has_parent_path() || dir.parent_path() == dir) break;
    dir = dir.parent_path();
  }
}

}  // namespace

std::optional<ModelMemoryNeed> model_memory_need(const ModelMemoryInputs& in) {
  if (in.model == nullptr || in.config == nullptr || in.model->type != "gpt" || !in.model->params.is_object())
    return std::nullopt;
  // GPT-2's defaults where a key is absent, as the module's (modules/model/gpt/gpt_config.hpp).
  const json::Value& p = in.model->params;
  const auto L = int_param(p, "n_layer", 12), H = int_param(p, "n_head", 12), C = int_param(p, "n_embd", 768),
             V = int_param(p, "vocab_size", 50257), block = int_param(p, "block_size", 1024);
  if (!L || !H || !C || !V || !block) return std::nullopt;
  const double l = static_cast<double>(*L), h = static_cast<double>(*H), c = static_cast<double>(*C),
               v = static_cast<double>(*V);
  // gpt_parameters(): wte, wpe, 12C^2 + 13C a block, ln_f.
  const double params = v * c + static_cast<double>(*block) * c + l * (12 * c * c + 13 * c) + 2 * c;

  std::optional<int64_t> micro = in.micro_batch;
  if (!micro)
    if (const json::Value* m = in.config->find("train_micro_batch_size_per_gpu"); m != nullptr && m->is_int())
      micro = m->as_int();
  const double b = static_cast<double>(std::max<int64_t>(1, micro.value_or(1)));
  const double t = static_cast<double>(std::min(in.seq.value_or(*block), *block));
  const double ranks = static_cast<double>(std::max<int64_t>(1, in.ranks));
  const double bt = b * t;

  // The module's buffers (gpt_model.cpp reserve()): per block ln1, qkv (3C), atty, x_mid, ln2, fch
  // (4C), fch_gelu (4C), x_out = 16C a token, 4 per-token statistics and the attention's
  // log-sum-exp (H a token); then embeddings, ln_f and its statistics, the logits. Training keeps
  // every block's set and adds the backward's scratch (dx, dln, dqkv, datty, dfch: 10C a token) and
  // the logits' gradient; a frozen teacher reuses one set.
  const double per_set = bt * (16 * c + 4) + bt * h;
  const double shared = bt * (2 * c + 2) + bt * v;
  const double activations =
      in.trains ? l * per_set + shared + bt * 10 * c + bt * v : per_set + shared;

  // Model states as `tandem estimate` counts them (fp32 unless the config enables bf16 or fp16),
  // without the host-side buffer factor. An "auto" stage counts as ZeRO-3, the least.
  const bool half = enabled(*in.config, "bf16.enabled") || enabled(*in.config, "fp16.enabled");
  const int stage = in.config->zero_stage().value_or(3);
  const bool offload_optimizer = offloaded(*in.config, "zero_optimization.offload_optimizer.device");
  double states = 0;
  if (!in.trains) {
    // Only the working parameters: no gradients, no optimizer.
    states = params * (half ? 2 : 4) * (stage == 3 ? 1 : ranks);
  } else {
    EstimateInputs e;
    // Clamped so that the estimate's integer products cannot overflow; anything near is refused anyway.
    e.params = static_cast<int64_t>(std::min(params, 1e17));
    e.largest_layer_params = std::min<int64_t>(e.params, static_cast<int64_t>(std::min(12 * c * c + 13 * c, 1e17)));
    e.world_size = std::max<int64_t>(1, in.ranks);
    e.offload_optimizer = offload_optimizer;
    e.offload_param = offloaded(*in.config, "zero_optimization.offload_param.device");
    e.dtype = half ? EstimateInputs::Dtype::Bf16 : EstimateInputs::Dtype::Fp32;
    e.buffer_factor = 1.0;
    if (stage < 0 || stage > 3) return std::nullopt;  // the config's validation names it
    const StageEstimate row = estimate_model_states(e)[static_cast<size_t>(stage)];
    if (!row.applicable) return std::nullopt;  // a combination the engine refuses by name
    // The ranks are threads of this process: each one's device share, plus the host side when offloaded.
    states = ranks * static_cast<double>(row.device_bytes) + (offload_optimizer ? static_cast<double>(row.host_bytes) : 0);
    // The clamp must not hide a model larger still.
    states *= params / static_cast<double>(e.params);
  }

  ModelMemoryNeed need;
  need.label = in.label;
  need.params = params;
  need.model_states = saturate(states);
  need.activations = saturate(activations * kFloatBytes * ranks);
  std::ostringstream how;
  how << (in.trains ? "ZeRO-" + std::to_string(stage) : std::string("frozen, ZeRO-") + std::to_string(stage)) << ", "
      << (half ? "16-bit" : "fp32") << (offload_optimizer ? ", optimizer offloaded" : "") << ", "
      << static_cast<int64_t>(ranks) << (ranks == 1 ? " rank" : " ranks") << "; activations for "
      << static_cast<int64_t>(b) << " rows x " << static_cast<int64_t>(t) << " tokens a rank";
  need.how = how.str();
  return need;
}

std::vector<MemoryBound> memory_bounds() {
  std::vector<MemoryBound> out;
  if (const std::optional<uint64_t> available = proc_kb("/proc/meminfo", "MemAvailable"))
    out.push_back({*available, "MemAvailable in /proc/meminfo"});
  add_rlimit(out, RLIMIT_AS, "RLIMIT_AS (ulimit -v)", "VmSize");
  add_rlimit(out, RLIMIT_DATA, "RLIMIT_DATA (ulimit -d)", "VmData");
  add_cgroups(out);
  return out;
}

void check_run_memory(const std::vector<ModelMemoryInputs>& models, const std::string& source) {
  std::vector<ModelMemoryNeed> needs;
  double total = 0;
  for (const ModelMemoryInputs& m : models)
    if (std::optional<ModelMemoryNeed> need = model_memory_need(m)) {
      total += static_cast<double>(need->model_states) + static_cast<double>(need->activations);
      needs.push_back(std::move(*need));
    }
  if (needs.empty()) return;
  const std::vector<MemoryBound> bounds = memory_bounds();
  if (bounds.empty()) return;
  const MemoryBound& least =
      *std::min_element(bounds.begin(), bounds.end(), [](const auto& a, const auto& b) { return a.bytes < b.bytes; });
  if (total <= static_cast<double>(least.bytes)) return;

  std::ostringstream text;
  text << source << ": the run cannot fit in memory: it needs at least " << io::human_size(saturate(total)) << " (";
  for (size_t i = 0; i < needs.size(); ++i) {
    const ModelMemoryNeed& n = needs[i];
    char params[32];
    std::snprintf(params, sizeof params, "%.3g", n.params);
    text << (i > 0 ? "; " : "") << n.label << ": " << params << " parameters, model states "
         << io::human_size(n.model_states) << " and activations " << io::human_size(n.activations) << " (" << n.how
         << ")";
  }
  text << ") and " << io::human_size(least.bytes) << " is available (" << least.what
       << "). Make the model smaller, lower micro_batch or seq_len, partition the model states over more ranks "
          "(ZeRO stage 1-3) or offload the optimizer; or pass --skip-memory-check to try anyway";
  throw MemoryRefusal(text.str());
}

}  // namespace tandem
