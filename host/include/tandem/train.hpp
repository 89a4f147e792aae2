// `tandem train RUN.json`: the run file and the training loop behind it.
//
// A run file names the model, the data, the DeepSpeed config and the run's length:
//
//   {
//     "model": {"type": "gpt", "params": {"n_layer": 4, "n_head": 4, "n_embd": 128,
//                                         "vocab_size": 256, "block_size": 128}},
//     "data": {"path": "kjv", "val_fraction": 0.05},   // "kjv": the Debian package's Bible
//     "deepspeed": "zero0.json",       // a path (relative to the run file) or the config inline
//     "ranks": 2,                      // thread-ranks
//     "steps": 300,                    // optimizer steps
//     "seq_len": 128,                  // tokens per row (default: the model's longest)
//     "micro_batch": 8,                // rows per rank and micro-step; fills an "auto"
//     "lr": 1e-3, "weight_decay": 0.1, "warmup_steps": 30,   // fill the config's "auto"s
//     "seed": 1234,
//     "eval_interval": 50, "eval_batches": 8,
//     "checkpoint_dir": "runs/tiny", "checkpoint_interval": 100,
//     "metrics": "runs/tiny/metrics.jsonl"
//   }
// Relative paths are relative to the run file's directory. docs/run-files.md has every key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "tandem/engine.hpp"
#include "tandem/json.hpp"

namespace tandem {

struct RunFile {
  std::string source;  // the run file's path, for messages
  ModelSpec model;
  std::filesystem::path data;          // a file, or "kjv"
  std::string data_format = "auto";    // auto, text, llmc, raw
  double val_fraction = 0.05;
  json::Value deepspeed;               // the config: its text is parsed as a DeepSpeed config
  std::string deepspeed_source;        // the config's file, or the run file for an inline one
  int64_t ranks = 1;
  int64_t steps = 0;
  std::optional<int64_t> seq_len;
  std::optional<int64_t> micro_batch;
  std::optional<double> lr, weight_decay;
  std::optional<int64_t> warmup_steps;
  uint64_t seed = 1234;
  int64_t eval_interval = 0;  // 0: only at the end
  int64_t eval_batches = 8;
  std::filesystem::path checkpoint_dir;  // empty: no checkpoints
  int64_t checkpoint_interval = 0;       // 0: only at the end
  std::filesystem::path metrics;         // empty: none
  std::filesystem::path cache_dir;       // where the default corpus is made (data_cache)
  std::filesystem::path init_from;       // initial weights: a .safetensors file (e.g. Hugging Face GPT-2)
};

// Reads and checks a run file; errors name the file, the key and its line:column.
RunFile load_run_file(const std::filesystem::path& path);

struct TrainOptions {
  bool resume = false;        // continue from the newest checkpoint in checkpoint_dir
  bool progress = true;       // a progress bar on a terminal, plain lines otherwise
  std::optional<int64_t> stop_after;  // stop after this optimizer step (tests: an interrupted run)
};

struct TrainSummary {
  int64_t steps = 0;                 // optimizer steps done, resumed ones included
  double final_loss = 0;             // the last micro-step's training loss
  double val_loss = 0;               // at the end
  double unigram_baseline = 0;       // entropy of the training tokens' unigram distribution (nats)
  double tokens_per_second = 0;
  std::filesystem::path last_checkpoint;
};

TrainSummary train(const RunFile& run, const TrainOptions& options);

}  // namespace tandem
