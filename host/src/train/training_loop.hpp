// The loop `tandem train` and `tandem distill` both run once their engine and data exist: resume from
// the newest checkpoint, then optimizer steps with metrics, evaluation, progress and checkpoints. What
// one micro-step does (plain training, or a teacher's forward and the distillation loss) is the
// caller's.
#pragma once

#include <filesystem>
#include <functional>
#include <vector>

#include "monitor/monitors.hpp"
#include "tandem/data.hpp"
#include "tandem/engine.hpp"
#include "tandem/train.hpp"

namespace tandem {

// Forward, backward and step of one micro-step: the batches (one per rank) and each rank's data step.
using MicroStep = std::function<StepReport(const std::vector<TokenBatch>& batches, const std::vector<int64_t>& rank_steps)>;

struct LoopOutputs {
  std::filesystem::path checkpoint_dir;  // empty: no checkpoints
  std::filesystem::path metrics;         // empty: no metrics file
  bool loss_parts = false;               // ce_loss and kd_loss in metrics lines (distillation only)
  // Called once every output is claimed and before the first step (the start-up summary).
  std::function<void(const monitor::Monitors&)> before_first_step;
};

struct LoopResult {
  TrainSummary summary;  // steps, final and validation loss, tokens/s, last checkpoint (unigram left to the caller)
  StepReport last;       // the last micro-step's report
  std::vector<std::vector<TokenBatch>> validation;  // the batches the validation loss was measured on
};

// Runs `run.steps` optimizer steps of `engine` (fewer with options.stop_after), resuming first when
// options.resume. With outputs.loss_parts, metrics lines carry the loss's parts (ce_loss, kd_loss)
// beside the common fields. The config's monitors (csv_monitor, tensorboard) get every step too.
LoopResult run_training_loop(Engine& engine, const RunFile& run, std::vector<data::DataLoader>& loaders,
                             const TrainOptions& options, const LoopOutputs& outputs, const MicroStep& micro_step);

}  // namespace tandem
