// `tandem train RUN.json`: trains one model as the run file says (see tandem/train.hpp), or several
// disjoint models side by side when the run file has "models" (tandem/train_models.hpp).
#include <iostream>

#include "cli/cli.hpp"
#include "tandem/train.hpp"
#include "tandem/train_models.hpp"

namespace tandem::cli {

int run_train(const Args& args) {
  constexpr const char* kUsage =
      "usage: tandem train RUN.json [--resume] [--quiet] [--stop-after N]\n"
      "Trains the run file's model on its data under its DeepSpeed config, with thread-ranks; a run file\n"
      "with \"models\" trains several disjoint models side by side. The run file's keys: docs/run-files.md.";
  std::string file;
  po::options_description options("tandem train");
  add_run_flag_options(options);
  options.add_options()("file", po::value(&file), "the run file");
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kUsage)) return kExitOk;
  if (file.empty()) throw UsageError(std::string("no run file given\n") + kUsage);
  const RunFlags flags = read_run_flags(vm);
  TrainOptions opts;
  opts.resume = flags.resume;
  opts.progress = flags.progress;
  opts.stop_after = flags.stop_after;

  if (is_multi_model_run_file(file)) {
    for (const ModelSummary& m : train_models(load_multi_model_run_file(file), opts)) {
      std::cout << m.name << ": ";
      print_training_summary(std::cout, m.summary);
    }
    return kExitOk;
  }
  print_training_summary(std::cout, train(load_run_file(file), opts));
  return kExitOk;
}

}  // namespace tandem::cli
