// A tiny GPT trained for a few dozen steps on a repeating pattern (0, 1, ..., 6, 0, 1, ...), under
// ZeRO-2 on 2 thread-ranks, saved as a checkpoint: what `tandem generate`, `eval` and `export` read.
// Built once per test process (well under a second).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "engine_support.hpp"
#include "tandem/inference.hpp"

namespace tandem::test {

inline const char* kTinyShape = R"({"n_layer": 2, "n_head": 2, "n_embd": 16, "vocab_size": 32, "block_size": 16})";
constexpr int32_t kPeriod = 7;

inline ModelSpec tiny_shape() {
  ModelSpec m;
  m.type = "gpt";
  m.params = json::parse(kTinyShape).root;
  m.source = "<test>";
  return m;
}

// Rows of the pattern, each starting at another phase; targets are the next token.
inline TokenBatch pattern_batch(int64_t rows, int64_t seq, int64_t phase) {
  TokenBatch b;
  b.batch = rows;
  b.seq = seq;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < seq; ++t) {
      b.inputs.push_back(static_cast<int32_t>((phase + r + t) % kPeriod));
      b.targets.push_back(static_cast<int32_t>((phase + r + t + 1) % kPeriod));
    }
  return b;
}

// The checkpoint directory (created once).
inline std::filesystem::path trained_checkpoint() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path root = temp_dir("trained-gpt");
    State::reset();
    PluginSet plugins;
    plugins.add("model", DeepSpeedPlugin(load_config_text(
                             R"({"train_micro_batch_size_per_gpu": 4, "optimizer": {"type": "AdamW", "params": )"
                             R"({"lr": 0.03, "weight_decay": 0.0}}, "zero_optimization": {"stage": 2}})",
                             "<trained>")));
    AcceleratorOptions options;
    options.world_size = 2;
    Accelerator accelerator(std::move(plugins), options);
    PrepareInputs in;
    in.model = tiny_shape();
    in.micro_batch = 4;
    Prepared p = accelerator.prepare(in);
    for (int step = 0; step < 60; ++step) {
      const std::vector<TokenBatch> batches{pattern_batch(4, 16, step), pattern_batch(4, 16, step + 3)};
      p.engine()->forward(batches);
      p.engine()->backward(LossSpec{&batches});
      p.engine()->step();
    }
    const std::filesystem::path ckpt = root / "step-00000060";
    std::filesystem::create_directories(ckpt);
    p.engine()->save(ckpt);
    return ckpt;
  }();
  return dir;
}

inline InferenceModel load_trained() { return InferenceModel::load(trained_checkpoint(), {.model = tiny_shape()}); }

}  // namespace tandem::test
