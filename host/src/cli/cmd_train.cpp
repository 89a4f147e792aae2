// `tandem train RUN.json`: trains one model as the run file says (see tandem/train.hpp).
#include <iostream>

#include "cli/cli.hpp"
#include "tandem/data.hpp"
#include "tandem/safetensors.hpp"
#include "tandem/train.hpp"
#include "tandem/train_models.hpp"

namespace tandem::cli {

int run_train(const Args& args) {
  constexpr const char* kUsage =
      "usage: tandem train RUN.json [--resume] [--quiet] [--stop-after N]\n"
      "Trains the run file's model on its data under its DeepSpeed config, with thread-ranks. The run\n"
      "file's keys are described in README.md (\"Training\") and docs/run-files.md.";
  std::string file;
  int64_t stop_after = 0;
  po::options_description options("tandem train");
  options.add_options()("resume", "continue from the newest checkpoint in checkpoint_dir")(
      "quiet,q", "no progress on stderr")("stop-after", po::value(&stop_after),
                                           "stop (with a checkpoint) after this optimizer step")(
      "file", po::value(&file), "the run file");
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kUsage)) return kExitOk;
  if (file.empty()) throw UsageError(std::string("no run file given\n") + kUsage);
  if (is_multi_model_run_file(file)) return run_train_models(file, vm);  // "models": several side by side

  RunFile run;
  try {
    run = load_run_file(file);
  } catch (const json::ParseError& e) {
    throw UsageError(e.what());
  }
  TrainOptions opts;
  opts.resume = vm.count("resume") > 0;
  opts.progress = vm.count("quiet") == 0;
  if (vm.count("stop-after")) opts.stop_after = stop_after;
  try {
    const TrainSummary s = train(run, opts);
    std::cout << "trained " << s.steps << " steps: train loss " << s.final_loss << ", validation loss " << s.val_loss
              << " (unigram baseline " << s.unigram_baseline << "), " << static_cast<int64_t>(s.tokens_per_second)
              << " tokens/s";
    if (!s.last_checkpoint.empty()) std::cout << "; checkpoint " << s.last_checkpoint.string();
    std::cout << "\n";
  } catch (const data::DataError& e) {
    throw UsageError(e.what());
  } catch (const safetensors::Error& e) {
    throw UsageError(e.what());
  }
  return kExitOk;
}

}  // namespace tandem::cli
