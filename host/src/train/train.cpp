// The training loop of `tandem train`: data per rank, engine steps, evaluation, metrics, progress,
// and checkpoints that are either whole or absent (written under a temporary name, then renamed).
#include "tandem/train.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tandem/accelerator.hpp"
#include "tandem/data.hpp"
#include "train/checkpoint_dir.hpp"
#include "train/progress.hpp"
#include "train/train_support.hpp"

namespace tandem {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

TrainSummary train(const RunFile& run, const TrainOptions& options) {
  // A missing data file is reported before the model is built (which can take a while).
  if (run.data != "kjv" && !std::filesystem::exists(run.data))
    throw data::DataError(run.data.string(), "no such file (the run file's data.path)");

  // The engine, prepared as Accelerate would: one plugin, the data's batch size, the run's facts.
  State::reset();
  PluginSet plugins;
  plugins.add("train", DeepSpeedPlugin(load_deepspeed(run.deepspeed, run.deepspeed_source)));
  AcceleratorOptions accel;
  accel.world_size = run.ranks;
  Accelerator accelerator(std::move(plugins), accel);
  PrepareInputs inputs = prepare_inputs(run);
  Prepared prepared = accelerator.prepare(inputs);
  Engine& engine = *prepared.engine();
  if (!engine.trains())
    throw std::invalid_argument(run.deepspeed_source + ": the config has no \"optimizer\"; `tandem train` needs one");
  const BatchTriple& batch = engine.config().batch;

  // The data: each rank its shard of the same token stream.
  auto tokens = load_run_tokens(run, static_cast<uint32_t>(engine.vocab_size()));
  const int64_t seq = run.seq_len.value_or(engine.max_sequence());
  if (seq > engine.max_sequence())
    throw std::invalid_argument(run.source + ": seq_len " + std::to_string(seq) + " exceeds the model's block_size " +
                                std::to_string(engine.max_sequence()));
  std::vector<data::DataLoader> loaders = make_loaders(run, tokens, seq, batch.micro_batch_per_gpu);
  TrainSummary summary;
  summary.unigram_baseline = unigram_entropy(tokens->ids, loaders.front().train_tokens());

  if (!run.init_from.empty()) engine.load_weights(run.init_from);

  // Resume from the newest whole checkpoint.
  CheckpointDir checkpoints(run.checkpoint_dir);
  if (options.resume) {
    if (run.checkpoint_dir.empty()) throw std::invalid_argument(run.source + ": --resume needs a checkpoint_dir");
    if (const std::optional<std::filesystem::path> latest = checkpoints.latest()) {
      engine.load(*latest);
      restore_loaders(*latest, loaders);
      if (options.progress) std::cerr << "resumed from " << latest->string() << " at step " << engine.global_steps() << "\n";
    }
  }

  // Metrics: one JSON line per optimizer step; a resumed run drops the lines after its checkpoint.
  std::ofstream metrics;
  if (!run.metrics.empty()) {
    std::filesystem::create_directories(run.metrics.parent_path().empty() ? "." : run.metrics.parent_path());
    truncate_metrics_after(run.metrics, engine.global_steps());
    metrics.open(run.metrics, std::ios::app);
    if (!metrics) throw std::runtime_error("cannot write metrics to " + run.metrics.string());
  }

  const std::vector<std::vector<TokenBatch>> val = validation_batches(loaders, run.eval_batches);
  const int64_t tokens_per_step = run.ranks * batch.micro_batch_per_gpu * seq * batch.gradient_accumulation_steps;
  Progress progress(options.progress, run.steps);
  const auto run_start = Clock::now();
  int64_t run_tokens = 0;
  auto save = [&](int64_t step) {
    summary.last_checkpoint = checkpoints.write(step, [&](const std::filesystem::path& dir) {
      engine.save(dir);
      write_trainer_state(dir, step, loaders, run.source);
    });
  };

  while (engine.global_steps() < run.steps) {
    const auto t0 = Clock::now();
    StepReport report;
    do {
      const std::vector<TokenBatch> batches = next_batches(loaders);
      engine.forward(batches, true);
      report = engine.backward(LossSpec{&batches});
    } while (!report.boundary);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double tokens_per_s = static_cast<double>(tokens_per_step) / seconds;
    run_tokens += tokens_per_step;
    const int64_t step = engine.global_steps();
    const bool last = step == run.steps || (options.stop_after && step >= *options.stop_after);
    std::optional<double> val_loss;
    if ((run.eval_interval > 0 && step % run.eval_interval == 0) || last) val_loss = engine.evaluate(val);
    if (metrics.is_open()) metrics << json::to_string(metrics_record(step, report, tokens_per_s, val_loss)) << "\n" << std::flush;
    progress.update(step, report.loss, report.lr, tokens_per_s, val_loss);
    summary.final_loss = report.loss;
    if (val_loss) summary.val_loss = *val_loss;
    if (!run.checkpoint_dir.empty() && ((run.checkpoint_interval > 0 && step % run.checkpoint_interval == 0) || last))
      save(step);
    if (last) break;
  }
  progress.finish();
  summary.steps = engine.global_steps();
  const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
  summary.tokens_per_second = elapsed > 0 ? static_cast<double>(run_tokens) / elapsed : 0;
  return summary;
}

}  // namespace tandem
