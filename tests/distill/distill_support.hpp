// Small models, configs and batches for the multi-model tests: a tiny teacher and a tinier student
// (same vocabulary), DeepSpeed configs under any stage, and the stages this build has.
#pragma once

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tandem/accelerator.hpp"

namespace tandem::test {

inline ModelSpec gpt(int layers, int width, uint64_t seed) {
  ModelSpec m;
  m.type = "gpt";
  m.params = json::parse(R"({"n_layer": )" + std::to_string(layers) + R"(, "n_head": 2, "n_embd": )" +
                         std::to_string(width) + R"(, "vocab_size": 32, "block_size": 8})")
                 .root;
  m.seed = seed;
  return m;
}
inline ModelSpec teacher_model(uint64_t seed = 11) { return gpt(2, 16, seed); }
inline ModelSpec student_model(uint64_t seed = 22) { return gpt(1, 8, seed); }

// A training config under `stage` (AdamW, WarmupLR as in the seed's zero2_config.json); `extra`
// is spliced into zero_optimization.
inline DeepSpeedConfig trained_config(int stage, int gas = 1, const std::string& extra = "") {
  return load_config_text(R"({"train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": )" +
                              std::to_string(gas) + R"(, "gradient_clipping": 1.0,
        "optimizer": {"type": "AdamW", "params": {"lr": 0.01, "weight_decay": 0.1}},
        "scheduler": {"type": "WarmupLR", "params": {"warmup_min_lr": 0.001, "warmup_max_lr": 0.01,
                                                     "warmup_num_steps": 3, "warmup_type": "linear"}},
        "zero_optimization": {"stage": )" + std::to_string(stage) + extra + "}}",
                          "<trained-stage" + std::to_string(stage) + ">");
}

// An inference config (no optimizer), as the seed's zero3_config.json.
inline DeepSpeedConfig frozen_config(int stage) {
  return load_config_text(R"({"train_micro_batch_size_per_gpu": 1, "zero_optimization": {"stage": )" +
                              std::to_string(stage) + "}}",
                          "<frozen-stage" + std::to_string(stage) + ">");
}

// The ZeRO stages whose modules this build has (zero0 always; zero1..3 once they are built).
inline std::vector<int> available_stages() {
  ModuleRegistry registry;
  registry.scan(ModuleRegistry::default_search_path());
  std::vector<int> out;
  for (int s = 0; s <= 3; ++s)
    if (registry.find(ModuleKind::Stage, "zero" + std::to_string(s)) != nullptr) out.push_back(s);
  return out;
}
inline bool has_stage(int stage) {
  for (int s : available_stages())
    if (s == stage) return true;
  return false;
}

// Deterministic micro-batches of `rows` x 8 tokens below 32, one per rank.
inline std::vector<TokenBatch> batches(int ranks, uint64_t seed, int64_t rows = 2) {
  std::vector<TokenBatch> out;
  for (int r = 0; r < ranks; ++r) {
    std::mt19937_64 gen(seed * 1000 + static_cast<uint64_t>(r));
    TokenBatch b;
    b.batch = rows;
    b.seq = 8;
    for (int64_t i = 0; i < rows * 8; ++i) {
      b.inputs.push_back(static_cast<int32_t>(gen() % 32));
      b.targets.push_back(static_cast<int32_t>(gen() % 32));
    }
    out.push_back(std::move(b));
  }
  return out;
}

using Weights = std::vector<std::pair<std::string, std::vector<float>>>;

// Bitwise equality of two sets of weights (memcmp: -0.0 != 0.0 and NaN == NaN of the same bits).
inline bool bitwise_equal(const Weights& a, const Weights& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || a[i].second.size() != b[i].second.size()) return false;
    if (std::memcmp(a[i].second.data(), b[i].second.data(), a[i].second.size() * sizeof(float)) != 0) return false;
  }
  return true;
}

inline std::filesystem::path temp_dir(const std::string& name) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tandem-distill-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::vector<char> file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace tandem::test
