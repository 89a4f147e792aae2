// The loop behind `tandem distill RUN.json` (distill.hpp): the seed's sequence of prepares, then
// the student's steps with the frozen teacher beside it (or without it, for the baseline), with
// evaluation, metrics, progress and checkpoints as `tandem train` has them.
#include <chrono>
#include <fstream>
#include <iostream>

#include "tandem/accelerator.hpp"
#include "tandem/distill.hpp"
#include "train/checkpoint_dir.hpp"
#include "train/progress.hpp"
#include "train/train_support.hpp"

namespace tandem {

namespace {

using Clock = std::chrono::steady_clock;

// "<dir>-baseline" and "<stem>-baseline<ext>": where the baseline writes, beside the distilled run.
std::filesystem::path baseline_path(const std::filesystem::path& p, bool keep_extension) {
  if (p.empty()) return p;
  std::filesystem::path out = p;
  if (keep_extension) return out.replace_filename(p.stem().string() + "-baseline" + p.extension().string());
  return out.replace_filename(p.filename().string() + "-baseline");
}

// The micro-step each rank's next batch belongs to: its loader's position, counted from the start.
std::vector<int64_t> loader_steps(const std::vector<data::DataLoader>& loaders) {
  std::vector<int64_t> steps;
  for (const data::DataLoader& l : loaders)
    steps.push_back(static_cast<int64_t>(l.position().epoch * l.steps_per_epoch() + l.position().step));
  return steps;
}

}  // namespace

DistillSummary distill(const DistillRunFile& run, const DistillOptions& options) {
  const RunFile& r = run.student;
  // Bad input is reported before any model is built (which can take a while).
  if (r.data != "kjv" && !std::filesystem::exists(r.data))
    throw data::DataError(r.data.string(), "no such file (the run file's data.path)");
  std::filesystem::path teacher_checkpoint;
  if (options.with_teacher) teacher_checkpoint = resolve_teacher_checkpoint(run);
  const std::filesystem::path checkpoint_dir = options.with_teacher ? r.checkpoint_dir : baseline_path(r.checkpoint_dir, false);
  const std::filesystem::path metrics_file = options.with_teacher ? r.metrics : baseline_path(r.metrics, true);

  // The seed's sequence: two named plugins, the first ("student") active; the student prepared
  // with its optimizer and schedule; then "teacher" selected and the teacher prepared with none.
  State::reset();
  PluginSet plugins;
  plugins.add("student", DeepSpeedPlugin(load_deepspeed(r.deepspeed, r.deepspeed_source)));
  plugins.add("teacher", DeepSpeedPlugin(load_deepspeed(run.teacher.deepspeed, run.teacher.deepspeed_source)));
  AcceleratorOptions accel;
  accel.world_size = r.ranks;
  Accelerator accelerator(std::move(plugins), accel);
  PrepareInputs student_inputs = prepare_inputs(r);
  Prepared student = accelerator.prepare(student_inputs);
  Engine& engine = *student.engine();
  if (!engine.trains())
    throw std::invalid_argument(r.deepspeed_source + ": the student's config has no \"optimizer\"; the student trains");
  const BatchTriple& batch = engine.config().batch;
  if (!r.init_from.empty()) engine.load_weights(r.init_from);

  std::optional<Prepared> teacher;
  std::optional<Distiller> distiller;
  if (options.with_teacher) {
    accelerator.select("teacher");
    PrepareInputs teacher_inputs;
    teacher_inputs.model = run.teacher.model;
    teacher_inputs.micro_batch = batch.micro_batch_per_gpu;  // fills an "auto"; the teacher sees the same batches
    teacher = accelerator.prepare(teacher_inputs);
    if (teacher->engine()->trains())
      throw std::invalid_argument(run.teacher.deepspeed_source +
                                  ": the teacher's config has an \"optimizer\"; the teacher is frozen (prepare it "
                                  "from a config without one, as the seed's zero3_config.json)");
    teacher->engine()->load(teacher_checkpoint, false);
    distiller.emplace(engine, *teacher->engine(), run.loss);
  }

  // The data: each rank its shard of the same token stream; the teacher sees the student's batches.
  auto tokens = load_run_tokens(r, static_cast<uint32_t>(engine.vocab_size()));
  int64_t longest = engine.max_sequence();
  if (teacher) longest = std::min(longest, teacher->engine()->max_sequence());
  const int64_t seq = r.seq_len.value_or(longest);
  if (seq > longest)
    throw std::invalid_argument(r.source + ": seq_len " + std::to_string(seq) + " exceeds the block_size of " +
                                (seq > engine.max_sequence() ? "the student" : "the teacher") + " (" +
                                std::to_string(longest) + ")");
  std::vector<data::DataLoader> loaders = make_loaders(r, tokens, seq, batch.micro_batch_per_gpu);
  DistillSummary summary;
  summary.with_teacher = options.with_teacher;
  summary.student.unigram_baseline = unigram_entropy(tokens->ids, loaders.front().train_tokens());

  CheckpointDir checkpoints(checkpoint_dir);
  if (options.resume) {
    if (checkpoint_dir.empty()) throw std::invalid_argument(r.source + ": --resume needs a checkpoint_dir");
    if (const std::optional<std::filesystem::path> latest = checkpoints.latest()) {
      engine.load(*latest);
      restore_loaders(*latest, loaders);
      if (options.progress) std::cerr << "resumed from " << latest->string() << " at step " << engine.global_steps() << "\n";
    }
  }

  std::ofstream metrics;
  if (!metrics_file.empty()) {
    std::filesystem::create_directories(metrics_file.parent_path().empty() ? "." : metrics_file.parent_path());
    truncate_metrics_after(metrics_file, engine.global_steps());
    metrics.open(metrics_file, std::ios::app);
    if (!metrics) throw std::runtime_error("cannot write metrics to " + metrics_file.string());
  }

  const std::vector<std::vector<TokenBatch>> val = validation_batches(loaders, r.eval_batches);
  const int64_t tokens_per_step = r.ranks * batch.micro_batch_per_gpu * seq * batch.gradient_accumulation_steps;
  Progress progress(options.progress, r.steps);
  const auto run_start = Clock::now();
  int64_t run_tokens = 0;

  while (engine.global_steps() < r.steps) {
    const auto t0 = Clock::now();
    StepReport report;
    do {
      const std::vector<int64_t> rank_steps = loader_steps(loaders);
      const std::vector<TokenBatch> batches = next_batches(loaders);
      if (distiller) {
        report = distiller->step(batches, rank_steps);
      } else {
        engine.forward(batches, true);
        report = engine.backward(LossSpec{&batches});
      }
    } while (!report.boundary);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double tokens_per_s = static_cast<double>(tokens_per_step) / seconds;
    run_tokens += tokens_per_step;
    const int64_t step = engine.global_steps();
    const bool last = step == r.steps || (options.stop_after && step >= *options.stop_after);
    std::optional<double> val_loss;
    if ((r.eval_interval > 0 && step % r.eval_interval == 0) || last) val_loss = engine.evaluate(val);
    if (metrics.is_open()) {
      json::Value record = metrics_record(step, report, tokens_per_s, val_loss);
      record.set("ce_loss", json::Value::number(report.ce_loss));
      record.set("kd_loss", json::Value::number(report.kd_loss));
      metrics << json::to_string(record) << "\n" << std::flush;
    }
    progress.update(step, report.loss, report.lr, tokens_per_s, val_loss);
    summary.student.final_loss = report.loss;
    summary.kd_loss = report.kd_loss;
    if (val_loss) summary.student.val_loss = *val_loss;
    if (!checkpoint_dir.empty() && ((r.checkpoint_interval > 0 && step % r.checkpoint_interval == 0) || last))
      summary.student.last_checkpoint = checkpoints.write(step, [&](const std::filesystem::path& dir) {
        engine.save(dir);
        write_trainer_state(dir, step, loaders, r.source);
      });
    if (last) break;
  }
  progress.finish();
  summary.student.steps = engine.global_steps();
  const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
  summary.student.tokens_per_second = elapsed > 0 ? static_cast<double>(run_tokens) / elapsed : 0;
  if (teacher) summary.teacher_val_loss = teacher->engine()->evaluate(val);
  return summary;
}

}  // namespace tandem
