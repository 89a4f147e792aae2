// The loop behind `tandem distill RUN.json` (distill.hpp): the seed's sequence of prepares, then
// the student's steps with the frozen teacher beside it (or without it, for the baseline), with
// evaluation, metrics, progress and checkpoints as `tandem train` has them (training_loop.hpp).
#include <iostream>

#include "estimate/run_memory.hpp"
#include "tandem/accelerator.hpp"
#include "tandem/distill.hpp"
#include "train/run_outputs.hpp"
#include "train/run_start.hpp"
#include "train/train_support.hpp"
#include "train/training_loop.hpp"

namespace tandem {

namespace {

// "<dir>-baseline" and "<stem>-baseline<ext>": where the baseline writes, beside the distilled run.
std::filesystem::path baseline_path(const std::filesystem::path& p, bool keep_extension) {
  if (p.empty()) return p;
  std::filesystem::path out = p;
  if (keep_extension) return out.replace_filename(p.stem().string() + "-baseline" + p.extension().string());
  return out.replace_filename(p.filename().string() + "-baseline");
}

}  // namespace

DistillSummary distill(const DistillRunFile& run, const DistillOptions& options) {
  const RunFile& r = run.student;
  // Bad input is reported before any model is built (which can take a while).
  refuse_cpu_run_of_several_processes(r.device, r.ranks, r.source);
  (void)run_data_files(r);
  std::filesystem::path teacher_checkpoint;
  if (options.with_teacher) teacher_checkpoint = resolve_teacher_checkpoint(run);
  const std::filesystem::path checkpoint_dir = options.with_teacher ? r.checkpoint_dir : baseline_path(r.checkpoint_dir, false);
  const std::filesystem::path metrics_file = options.with_teacher ? r.metrics : baseline_path(r.metrics, true);

  // The seed's sequence: two named plugins, the first ("student") active; the student prepared
  // with its optimizer and schedule; then "teacher" selected and the teacher prepared with none.
  DeepSpeedConfig student_config = load_deepspeed(r.deepspeed, r.deepspeed_source);
  DeepSpeedConfig teacher_config = load_deepspeed(run.teacher.deepspeed, run.teacher.deepspeed_source);
  // Both models live in this process: together they must fit, checked before either is built.
  if (!options.skip_memory_check && r.device == RunDevice::cpu) {
    std::vector<ModelMemoryInputs> needs{{"student", &r.model, &student_config, true, r.ranks, r.micro_batch, r.seq_len}};
    if (options.with_teacher)
      needs.push_back({"teacher", &run.teacher.model, &teacher_config, false, r.ranks, r.micro_batch, r.seq_len});
    check_run_memory(needs, r.source);
  }
  State::reset();
  PluginSet plugins;
  plugins.add("student", DeepSpeedPlugin(std::move(student_config)));
  plugins.add("teacher", DeepSpeedPlugin(std::move(teacher_config)));
  AcceleratorOptions accel;
  accel.world_size = r.ranks;
  accel.device = r.device;
  accel.module_path = options.module_path;
  Accelerator accelerator(std::move(plugins), accel);
  PrepareInputs student_inputs = prepare_inputs(r);
  Prepared student = accelerator.prepare(student_inputs);
  print_config_warnings(student);
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
    print_config_warnings(*teacher);
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
  std::vector<data::DataLoader> loaders = make_loaders(r, engine, tokens, seq, batch.micro_batch_per_gpu);
  DistillSummary summary;
  summary.with_teacher = options.with_teacher;
  summary.student.unigram_baseline = unigram_entropy(tokens->ids, loaders.front().train_tokens());

  TrainOptions loop_options;
  loop_options.resume = options.resume;
  // A named checkpoint is the distilled student's; the baseline resumes from its own directory.
  if (options.with_teacher) loop_options.resume_from = options.resume_from;
  loop_options.overwrite = options.overwrite;
  loop_options.progress = options.progress;
  loop_options.stop_after = options.stop_after;
  loop_options.stop = options.stop;
  LoopOutputs outputs{checkpoint_dir, metrics_file, options.with_teacher};
  outputs.before_first_step = [&](const monitor::Monitors& monitors) {
    if (!options.progress || engine.first_rank() != 0) return;
    std::vector<RunStartModel> models{{"student", &engine, seq, checkpoint_dir, false, 0, &monitors}};
    if (teacher)
      models.push_back({"teacher", teacher->engine(), seq, {}, true, batch.gradient_accumulation_steps, nullptr});
    print_run_start(std::cerr, options.with_teacher ? "distill" : "distill --baseline", r.source, r.steps,
                    run_device_name(r.device), models, metrics_file);
  };
  const LoopResult result = run_training_loop(
      engine, r, loaders, loop_options, outputs,
      [&](const std::vector<TokenBatch>& batches, const std::vector<int64_t>& rank_steps) {
        if (distiller) return distiller->step(batches, rank_steps);
        engine.forward(batches, true);
        engine.backward(LossSpec{&batches});
        return engine.step();
      });
  const double unigram = summary.student.unigram_baseline;
  summary.student = result.summary;
  summary.student.unigram_baseline = unigram;
  summary.kd_loss = result.last.kd_loss;
  if (teacher && !result.validation.empty()) summary.teacher_val_loss = teacher->engine()->evaluate(result.validation);
  return summary;
}

}  // namespace tandem
