// `tandem train RUN.json`: trains one model as the run file says (see tandem/train.hpp), or several
// disjoint models side by side when the run file has "models" (tandem/train_models.hpp).
#include <signal.h>

#include <iostream>

#include "cli/cli.hpp"
#include "tandem/train.hpp"
#include "tandem/train_models.hpp"

namespace tandem::cli {

namespace {

// The end of a run that a signal stopped: what was saved and how to go on; the exit code.
int report_interrupt(const TrainSummary& s) {
  std::cerr << "tandem train: interrupted by " << stop_signal_name(s.interrupted_by) << " at step "
            << s.steps << "; "
            << (s.last_checkpoint.empty() ? std::string("no checkpoint_dir, nothing saved")
                                          : "newest checkpoint " + s.last_checkpoint.string() + "; resume with --resume")
            << "\n";
  return 128 + s.interrupted_by;
}

}  // namespace

int run_train(const Args& args) {
  // First, before any thread exists: SIGINT/SIGTERM then finish the step and write a checkpoint.
  StopRequest stop;
  const SignalWatcher watcher(stop);

  constexpr const char* kUsage =
      "usage: tandem train RUN.json [--resume [PATH] | --overwrite] [--quiet] [--stop-after N] [--skip-memory-check]\n"
      "           [--module-path DIR]...\n"
      "Trains the run file's model on its data under its DeepSpeed config, with thread-ranks; a run file\n"
      "with \"models\" trains several disjoint models side by side. The run file's keys: docs/run-files.md.";
  std::string file;
  po::options_description options("tandem train");
  add_run_flag_options(options);
  options.add_options()("file", po::value(&file), "the run file");
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse(join_resume_path(args), options, positional, vm, kUsage)) return kExitOk;
  if (file.empty()) throw UsageError(std::string("no run file given\n") + kUsage);
  const RunFlags flags = read_run_flags(vm);
  TrainOptions opts;
  opts.resume = flags.resume;
  opts.resume_from = flags.resume_from;
  opts.overwrite = flags.overwrite;
  opts.progress = flags.progress;
  opts.skip_memory_check = flags.skip_memory_check;
  opts.stop_after = flags.stop_after;
  opts.stop = &stop;
  opts.module_path = flags.module_path;

  try {
    if (is_multi_model_run_file(file)) {
      const std::vector<ModelSummary> models = train_models(load_multi_model_run_file(file), opts);
      for (const ModelSummary& m : models) {
        std::cout << m.name << ": ";
        print_training_summary(std::cout, m.summary);
      }
      return models.front().summary.interrupted_by != 0 ? report_interrupt(models.front().summary) : kExitOk;
    }
    const TrainSummary summary = train(load_run_file(file), opts);
    print_training_summary(std::cout, summary);
    return summary.interrupted_by != 0 ? report_interrupt(summary) : kExitOk;
  } catch (const CheckpointWriteError& e) {
    std::cerr << "tandem train: " << e.what()
              << "\nthe run stopped rather than train on without a checkpoint; the previous checkpoints are intact: "
                 "make room (or fix the directory) and resume with --resume, or set another checkpoint_dir\n";
    return kExitCheckpointWrite;
  }
}

}  // namespace tandem::cli
