// Disjoint models trained side by side, the seed's second scenario: several models in one process,
// each under its own named DeepSpeed plugin and its own engine, fed the same batches. Each engine
// has its own gradients, accumulation counter, optimizer, scheduler and checkpoint; a backward in one
// never touches another's state.
//
// As the seed writes it (examples/two_models.cpp is the whole program):
//
//   tandem::Accelerator first({{"first_model", ...}, {"second_model", ...}});
//   tandem::Accelerator second;                  // no arguments: shares the plugins and the selection
//   first.select("first_model");   auto a = first.prepare(first_inputs);
//   second.select("second_model"); auto b = second.prepare(second_inputs);
//   for (batches : data) {
//     a.engine()->forward(batches); a.engine()->backward({&batches}); a.engine()->step();
//     b.engine()->forward(batches); b.engine()->backward({&batches}); b.engine()->step();
//   }
//
// `tandem train RUN.json` runs that loop when the run file has "models" instead of "model":
//
//   {
//     "models": {
//       "first_model":  {"model": {...}, "deepspeed": "zero2.json", "lr": 1e-3},
//       "second_model": {"model": {...}, "deepspeed": "zero3_train.json", "seed": 7}
//     },
//     "data": {"path": "kjv"}, "ranks": 2, "steps": 100, "micro_batch": 8, ...   // as in train.hpp
//   }
// Each model's own keys (lr, weight_decay, warmup_steps) override the top-level ones, and its own
// "seed" sets its initial weights (the data order follows the top-level seed: one stream for all).
// Each model checkpoints into "<checkpoint_dir>/<name>"; metrics lines carry a "model" field.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tandem/train.hpp"

namespace tandem {

struct ModelRun {
  std::string name;  // the plugin's name
  RunFile run;       // this model's model (and its seed), config, lr, weight_decay, warmup_steps; the rest shared
};

struct MultiModelRunFile {
  std::string source;
  std::vector<ModelRun> models;  // in the order of the run file (the first one's plugin is active first)
};

// True if the run file at `path` has a "models" key (a multi-model run); false for anything else,
// which load_run_file() then reads and reports on.
bool is_multi_model_run_file(const std::filesystem::path& path);

// Reads and checks a multi-model run file; errors name the file, the key and its line:column.
MultiModelRunFile load_multi_model_run_file(const std::filesystem::path& path);

struct ModelSummary {
  std::string name;
  TrainSummary summary;
};

// Trains every model on the same batches, each through its own Accelerator and engine: the first
// Accelerator is made with all the plugins, the others with none (sharing the State), and each
// selects its model's plugin before preparing it. The models must resolve to the same micro-batch
// and gradient accumulation (they step together); std::invalid_argument naming them otherwise.
std::vector<ModelSummary> train_models(const MultiModelRunFile& run, const TrainOptions& options);

}  // namespace tandem
