#include "train/training_loop.hpp"

#include <chrono>
#include <fstream>
#include <iostream>

#include "io/regular_file.hpp"
#include "train/checkpoint_dir.hpp"
#include "train/named_checkpoint.hpp"
#include "train/progress.hpp"
#include "train/run_outputs.hpp"
#include "train/train_support.hpp"

namespace tandem {

namespace {

using Clock = std::chrono::steady_clock;

// Each rank's position in its data, counted in steps across epochs (the lockstep check's input).
std::vector<int64_t> loader_steps(const std::vector<data::DataLoader>& loaders) {
  std::vector<int64_t> steps;
  for (const data::DataLoader& l : loaders)
    steps.push_back(static_cast<int64_t>(l.position().epoch * l.steps_per_epoch() + l.position().step));
  return steps;
}

}  // namespace

LoopResult run_training_loop(Engine& engine, const RunFile& run, std::vector<data::DataLoader>& loaders,
                             const TrainOptions& options, const LoopOutputs& outputs, const MicroStep& micro_step) {
  LoopResult result;
  if (options.stop_after && *options.stop_after < 1)
    throw std::invalid_argument(run.source + ": stop_after must be an optimizer step, at least 1");
  const RunOutputs claimed({outputs.checkpoint_dir, {outputs.checkpoint_dir}, outputs.metrics}, options.resume,
                           options.overwrite, run.source);
  monitor::Monitors monitors = make_monitors(engine, run.source, options);  // claims its files now
  CheckpointDir checkpoints(outputs.checkpoint_dir, run.keep_checkpoints);
  if (options.resume) {
    if (outputs.checkpoint_dir.empty()) throw std::invalid_argument(run.source + ": --resume needs a checkpoint_dir");
    const std::optional<std::filesystem::path> latest =
        options.resume_from.empty() ? checkpoints.latest(std::cerr)
                                    : std::optional(named_checkpoint(options.resume_from, checkpoints, run.source));
    if (latest) {
      engine.load(*latest);
      restore_loaders(*latest, loaders);
      result.summary.last_checkpoint = *latest;
      if (options.progress)
        std::cerr << "resumed from " << latest->string() << " at step " << engine.global_steps() << "\n";
    }
  }

  // Metrics: one JSON line per optimizer step; a resumed run drops the lines after its checkpoint.
  std::optional<io::RegularFile> metrics;
  if (!outputs.metrics.empty()) {
    std::filesystem::create_directories(outputs.metrics.parent_path().empty() ? "." : outputs.metrics.parent_path());
    truncate_metrics_after(outputs.metrics, engine.global_steps());
    metrics = open_metrics(outputs.metrics, run.source);
  }

  monitors.start(engine.global_steps());
  if (outputs.before_first_step) outputs.before_first_step(monitors);

  result.validation = validation_batches(loaders, run.eval_batches, run.source);
  const data::LoaderConfig& data = loaders.front().config();
  const int64_t tokens_per_step = engine.world_size() * data.micro_batch * data.block_size *
                                  engine.config().batch.gradient_accumulation_steps;
  Progress progress(options.progress, run.steps);
  const auto run_start = Clock::now();
  int64_t run_tokens = 0;
  TrainSummary& summary = result.summary;
  NonFiniteStreak nonfinite(run.source, run.max_nonfinite_steps);
  if (engine.global_steps() >= run.steps) {  // resumed after its last step: say so, train nothing
    summary.already_finished = true;
    if (!result.validation.empty()) summary.val_loss = engine.evaluate(result.validation);
  }

  while (engine.global_steps() < run.steps) {
    const auto t0 = Clock::now();
    do {
      const std::vector<int64_t> rank_steps = loader_steps(loaders);
      const std::vector<TokenBatch> batches = next_batches(loaders);
      result.last = micro_step(batches, rank_steps);
    } while (!result.last.boundary);
    const StepReport& report = result.last;
    const double tokens_per_s =
        static_cast<double>(tokens_per_step) / std::chrono::duration<double>(Clock::now() - t0).count();
    run_tokens += tokens_per_step;
    const int64_t step = engine.global_steps();
    const bool last = step == run.steps || (options.stop_after && step >= *options.stop_after);
    std::optional<double> val_loss;
    if (((run.eval_interval > 0 && step % run.eval_interval == 0) || last) && !result.validation.empty())
      val_loss = engine.evaluate(result.validation);
    if (metrics) {
      json::Value record = metrics_record(step, report, tokens_per_s, val_loss);
      if (outputs.loss_parts) {
        record.set("ce_loss", metric_number(report.ce_loss));
        record.set("kd_loss", metric_number(report.kd_loss));
      }
      if (!metrics->write_all(json::to_string(record) + "\n")) throw_metrics_write_error(outputs.metrics);
    }
    monitors.write_step(step, report.loss, report.lr, report.loss_scale, val_loss);
    progress.update(step, report.loss, report.lr, tokens_per_s, val_loss);
    summary.final_loss = report.loss;
    if (val_loss) summary.val_loss = val_loss;
    // Throws once too many steps in a row were skipped: before a checkpoint of that state is written.
    nonfinite.observe(step, report, summary.last_checkpoint);
    const bool interrupted = options.stop != nullptr && options.stop->requested();
    // A checkpoint is due at the interval, at the end and when interrupted; while steps are being
    // skipped for non-finite gradients it waits for a good step (the state may be what is wrong).
    const bool due = (run.checkpoint_interval > 0 && step % run.checkpoint_interval == 0) || last || interrupted;
    if (!outputs.checkpoint_dir.empty() && due && nonfinite.count() > 0)
      std::cerr << "tandem: warning: step " << step << ": no checkpoint after a step skipped for non-finite gradients; "
                << (summary.last_checkpoint.empty() ? std::string("none was written")
                                                    : "the newest stays " + summary.last_checkpoint.string())
                << "\n";
    if (!outputs.checkpoint_dir.empty() && due && nonfinite.count() == 0)
      summary.last_checkpoint = checkpoints.write(step, [&](const std::filesystem::path& dir) {
        engine.save(dir);
        write_trainer_state(dir, step, loaders, run.source);
      });
    if (interrupted) {
      summary.interrupted_by = options.stop->signal();
      break;
    }
    if (last) break;
  }
  progress.finish();
  summary.steps = engine.global_steps();
  summary.skipped_steps = engine.skipped_steps();
  const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
  summary.tokens_per_second = elapsed > 0 ? static_cast<double>(run_tokens) / elapsed : 0;
  return result;
}

}  // namespace tandem
