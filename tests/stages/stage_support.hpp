// Engines for the ZeRO-stage tests: a tiny GPT whose parameter counts are not divisible by 2, 3 or
// 4 (so every world size pads), under an inline DeepSpeed config, trained on fixed pseudo-random
// batches; and the flat layout the stages must use, computed here from the model's shapes alone.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "../engine/engine_support.hpp"

namespace tandem::test {

// n_embd 5 and 3 blocks: the weight-decay group (matrices) has 1085 = 5*7*31 elements, the no-decay
// group (biases, norms) 205 = 5*41.
constexpr int32_t kVocab = 29;
constexpr int64_t kSeq = 7;
constexpr int64_t kRows = 2;  // micro-batch rows per rank

inline ModelSpec odd_gpt(uint64_t seed = 11) {
  ModelSpec m;
  m.type = "gpt";
  m.params = json::parse(R"({"n_layer": 3, "n_head": 1, "n_embd": 5, "vocab_size": 29, "block_size": 8})").root;
  m.seed = seed;
  return m;
}

struct StageRun {
  int stage = 0;
  int gas = 1;
  double clip = 0.05;
  std::string zero_extra;  // spliced into "zero_optimization" after the stage, e.g. R"(, "reduce_bucket_size": 1)"
  bool optimizer = true;
};

inline std::string config_text(const StageRun& run) {
  std::string text = R"({"train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": )" +
                     std::to_string(run.gas) + R"(, "gradient_clipping": )" + std::to_string(run.clip);
  if (run.optimizer)
    text += R"(, "optimizer": {"type": "AdamW", "params": {"lr": 0.02, "weight_decay": 0.1}},)"
            R"( "scheduler": {"type": "WarmupDecayLR", "params": {"warmup_min_lr": 0.004, "warmup_max_lr": 0.02,)"
            R"( "warmup_num_steps": 2, "total_num_steps": 12}})";
  text += R"(, "zero_optimization": {"stage": )" + std::to_string(run.stage) + run.zero_extra + "}}";
  return text;
}

inline Prepared prepare_run(const StageRun& run, int64_t world, uint64_t seed = 11) {
  State::reset();
  PluginSet plugins;
  plugins.add("model", DeepSpeedPlugin(load_config_text(config_text(run), "<stage test>")));
  AcceleratorOptions options;
  options.world_size = world;
  Accelerator accelerator(std::move(plugins), options);
  PrepareInputs in;
  in.model = odd_gpt(seed);
  in.micro_batch = kRows;
  return accelerator.prepare(in);
}

// One micro-batch per rank for global step `step`, micro-step `micro`: the same under every stage.
inline std::vector<TokenBatch> batches_for(int64_t world, int step, int micro) {
  std::vector<TokenBatch> out;
  for (int64_t r = 0; r < world; ++r)
    out.push_back(random_batch(kRows, kSeq, kVocab, 1000u * static_cast<uint64_t>(step) + 100u * micro + r));
  return out;
}

struct Trace {
  std::vector<double> losses;  // every micro-step
  std::vector<double> norms;   // every boundary
  std::vector<bool> stepped;
};

// Trains optimizer steps [from, to) (gas micro-steps each).
inline void train(Engine& e, int gas, int from, int to, Trace& trace) {
  const int64_t world = e.world_size();
  for (int s = from; s < to; ++s)
    for (int m = 0; m < gas; ++m) {
      const std::vector<TokenBatch> b = batches_for(world, s, m);
      e.forward(b);
      e.backward(LossSpec{&b});
      const StepReport r = e.step();
      trace.losses.push_back(r.loss);
      if (r.boundary) {
        trace.norms.push_back(r.grad_norm);
        trace.stepped.push_back(r.stepped);
      }
    }
}

using Weights = std::vector<std::pair<std::string, std::vector<float>>>;

// Same names, same sizes, same bits.
inline void expect_bitwise_equal(const Weights& a, const Weights& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    ASSERT_EQ(a[i].second.size(), b[i].second.size()) << a[i].first;
    EXPECT_EQ(std::memcmp(a[i].second.data(), b[i].second.data(), a[i].second.size() * sizeof(float)), 0)
        << a[i].first << " differs";
  }
}

// The flat layout every stage must use (tandem/flat_layout.hpp), from the model's shapes: group 0
// holds the matrices (weight decay), group 1 the vectors (biases and norms: no decay), each in the
// model's order, padded to a multiple of the world size; rank r owns slice r of each.
struct ExpectedLayout {
  struct Param {
    size_t group, offset, numel;
    int layer;
  };
  std::vector<Param> params;
  size_t numel[2] = {0, 0}, padded[2] = {0, 0}, partition[2] = {0, 0};
  size_t shard = 0, total_padded = 0, largest = 0, total = 0;

  ExpectedLayout(const Engine& e, int64_t world) {
    const size_t w = static_cast<size_t>(world);
    const Weights weights = e.parameters();
    for (size_t i = 0; i < weights.size(); ++i) {
      const size_t g = e.parameter_shape(i).size() == 1 ? 1 : 0;
      const size_t n = weights[i].second.size();
      params.push_back(Param{g, numel[g], n, layer_of(weights[i].first)});
      numel[g] += n;
      largest = std::max(largest, n);
      total += n;
    }
    for (size_t g = 0; g < 2; ++g) {
      padded[g] = (numel[g] + w - 1) / w * w;
      partition[g] = padded[g] / w;
      shard += partition[g];
      total_padded += padded[g];
    }
  }

  // GPT's layers: 0 embeddings, 1..3 blocks, 4 the final norm.
  static int layer_of(const std::string& name) {
    const std::string block = "transformer.h.";
    if (name.rfind(block, 0) == 0) return 1 + std::stoi(name.substr(block.size()));
    if (name.find("ln_f") != std::string::npos) return 4;
    return 0;
  }
};

}  // namespace tandem::test
