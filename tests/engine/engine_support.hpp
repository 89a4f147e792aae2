// Small engines for tests: a tiny GPT under an inline DeepSpeed config, on thread-ranks.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "tandem/accelerator.hpp"

namespace tandem::test {

inline ModelSpec tiny_gpt(uint64_t seed = 7) {
  ModelSpec m;
  m.type = "gpt";
  m.params = json::parse(R"({"n_layer": 2, "n_head": 2, "n_embd": 16, "vocab_size": 32, "block_size": 8})").root;
  m.seed = seed;
  return m;
}

// A DeepSpeed config for the tiny model; `extra` is spliced into the top-level object.
inline DeepSpeedConfig tiny_config(int stage, int gas, double clip, const std::string& extra = "") {
  const std::string text = R"({"train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": )" +
                           std::to_string(gas) + R"(, "gradient_clipping": )" + std::to_string(clip) +
                           R"(, "optimizer": {"type": "AdamW", "params": {"lr": 0.01, "weight_decay": 0.1}},)" +
                           R"( "zero_optimization": {"stage": )" + std::to_string(stage) + "}" + extra + "}";
  return load_config_text(text, "<tiny>");
}

// Deterministic pseudo-random micro-batches: rows of `seq` tokens below `vocab`, targets shifted.
inline TokenBatch random_batch(int64_t rows, int64_t seq, int32_t vocab, uint64_t seed) {
  std::mt19937_64 gen(seed);
  TokenBatch b;
  b.batch = rows;
  b.seq = seq;
  for (int64_t i = 0; i < rows * seq; ++i) {
    b.inputs.push_back(static_cast<int32_t>(gen() % static_cast<uint64_t>(vocab)));
    b.targets.push_back(static_cast<int32_t>(gen() % static_cast<uint64_t>(vocab)));
  }
  return b;
}

// Rows [first, first + count) of a batch, as a batch of their own.
inline TokenBatch rows_of(const TokenBatch& b, int64_t first, int64_t count) {
  TokenBatch out;
  out.batch = count;
  out.seq = b.seq;
  out.inputs.assign(b.inputs.begin() + first * b.seq, b.inputs.begin() + (first + count) * b.seq);
  out.targets.assign(b.targets.begin() + first * b.seq, b.targets.begin() + (first + count) * b.seq);
  return out;
}

// A fresh process state with one plugin, and the prepared engine.
inline Prepared prepare_tiny(DeepSpeedConfig config, int64_t world, int64_t micro_batch, uint64_t seed = 7) {
  State::reset();
  PluginSet plugins;
  plugins.add("model", DeepSpeedPlugin(std::move(config)));
  AcceleratorOptions options;
  options.world_size = world;
  Accelerator accelerator(std::move(plugins), options);
  PrepareInputs in;
  in.model = tiny_gpt(seed);
  in.micro_batch = micro_batch;
  return accelerator.prepare(in);
}

inline std::filesystem::path temp_dir(const std::string& name) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("tandem-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace tandem::test
