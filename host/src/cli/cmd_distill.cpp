// `tandem distill RUN.json`: a student trained beside a frozen teacher (see tandem/distill.hpp), and,
// with --baseline, the same student trained without it, for comparison.
#include <signal.h>

#include <iostream>

#include "cli/cli.hpp"
#include "tandem/distill.hpp"

namespace tandem::cli {

namespace {
// The distillation (and the baseline, when asked) with its summary lines; the exit code.
int distill_and_compare(const DistillRunFile& run, const DistillOptions& opts, bool baseline_flag);
}  // namespace

int run_distill(const Args& args) {
  // First, before any thread exists: SIGINT/SIGTERM then finish the step and write a checkpoint.
  StopRequest stop;
  const SignalWatcher watcher(stop);

  constexpr const char* kUsage =
      "usage: tandem distill RUN.json [--baseline] [--resume [PATH] | --overwrite] [--quiet] [--stop-after N]\n"
      "           [--skip-memory-check] [--module-path DIR]...\n"
      "Trains the run file's student on cross-entropy plus alpha * T^2 * KL(teacher_T || student_T), the\n"
      "teacher loaded from a `tandem train` checkpoint and run without gradients, each model under its own\n"
      "DeepSpeed config. --baseline (or \"baseline\": true) then trains the same student the same steps\n"
      "without the teacher and prints both validation losses. The run file's keys: docs/run-files.md.";
  std::string file;
  po::options_description options("tandem distill");
  add_run_flag_options(options);
  options.add_options()("baseline", "also train the student without the teacher, and compare")(
      "file", po::value(&file), "the run file");
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse(join_resume_path(args), options, positional, vm, kUsage)) return kExitOk;
  if (file.empty()) throw UsageError(std::string("no run file given\n") + kUsage);

  const DistillRunFile run = load_distill_run_file(file);
  const RunFlags flags = read_run_flags(vm);
  DistillOptions opts;
  opts.resume = flags.resume;
  opts.resume_from = flags.resume_from;
  opts.overwrite = flags.overwrite;
  opts.progress = flags.progress;
  opts.skip_memory_check = flags.skip_memory_check;
  opts.stop_after = flags.stop_after;
  opts.stop = &stop;
  opts.module_path = flags.module_path;
  try {
    return distill_and_compare(run, opts, vm.count("baseline") > 0);
  } catch (const CheckpointWriteError& e) {
    std::cerr << "tandem distill: " << e.what()
              << "\nthe run stopped rather than train on without a checkpoint; the previous checkpoints are intact: "
                 "make room (or fix the directory) and resume with --resume, or set another checkpoint_dir\n";
    return kExitCheckpointWrite;
  }
}

namespace {

// The end of a run that a signal stopped: what was saved and how to go on; the exit code.
int report_interrupt(const TrainSummary& s) {
  std::cerr << "tandem distill: interrupted by " << stop_signal_name(s.interrupted_by)
            << " at step " << s.steps << "; "
            << (s.last_checkpoint.empty() ? std::string("no checkpoint_dir, nothing saved")
                                          : "newest checkpoint " + s.last_checkpoint.string() + "; resume with --resume")
            << "\n";
  return 128 + s.interrupted_by;
}

int distill_and_compare(const DistillRunFile& run, const DistillOptions& opts, bool baseline_flag) {
  const bool baseline = run.baseline || baseline_flag;
  if (baseline && opts.progress) std::cerr << "the student with the teacher:\n";
  const DistillSummary with = distill(run, opts);
  constexpr const char* kNoValidation = "not measured (no validation data)";
  if (with.student.already_finished) {
    std::cout << "the run had already done its " << with.student.steps << " steps";
    if (!with.student.last_checkpoint.empty()) std::cout << " (checkpoint " << with.student.last_checkpoint.string() << ")";
    std::cout << ": nothing distilled; student validation loss " << loss_text(with.student.val_loss, kNoValidation)
              << ", teacher " << loss_text(with.teacher_val_loss, kNoValidation)
              << "; raise \"steps\" to train further" << std::endl;
  } else {
    std::cout << "distilled " << with.student.steps << " steps: train loss " << loss_text(with.student.final_loss, "none")
              << " (KD term " << with.kd_loss << "), validation loss " << loss_text(with.student.val_loss, kNoValidation)
              << "; teacher " << loss_text(with.teacher_val_loss, kNoValidation) << "; unigram baseline "
              << with.student.unigram_baseline << "; " << static_cast<int64_t>(with.student.tokens_per_second)
              << " tokens/s";
    if (!with.student.last_checkpoint.empty()) std::cout << "; checkpoint " << with.student.last_checkpoint.string();
    std::cout << std::endl;  // before the baseline's progress on stderr
  }
  if (with.student.interrupted_by != 0) return report_interrupt(with.student);
  if (!baseline) return kExitOk;

  DistillOptions alone = opts;
  alone.with_teacher = false;
  if (opts.progress) std::cerr << "the same student without the teacher (baseline):\n";
  const DistillSummary without = distill(run, alone);
  if (without.student.already_finished)
    std::cout << "baseline: the run had already done its " << without.student.steps << " steps: nothing trained\n";
  else
    std::cout << "baseline " << without.student.steps << " steps: train loss "
              << loss_text(without.student.final_loss, "none") << ", validation loss "
              << loss_text(without.student.val_loss, kNoValidation) << "; "
              << static_cast<int64_t>(without.student.tokens_per_second) << " tokens/s\n";
  std::cout << "student val loss: " << loss_text(with.student.val_loss, kNoValidation) << " with teacher, "
            << loss_text(without.student.val_loss, kNoValidation) << " without (teacher "
            << loss_text(with.teacher_val_loss, kNoValidation) << ", unigram " << with.student.unigram_baseline
            << ")\n";
  return without.student.interrupted_by != 0 ? report_interrupt(without.student) : kExitOk;
}

}  // namespace

}  // namespace tandem::cli
