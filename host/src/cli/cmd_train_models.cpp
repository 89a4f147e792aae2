// `tandem train RUN.json` when the run file has "models": disjoint models trained side by side,
// each under its own plugin and engine (see tandem/train_models.hpp).
#include <iostream>

#include "cli/cli.hpp"
#include "tandem/data.hpp"
#include "tandem/safetensors.hpp"
#include "tandem/train_models.hpp"

namespace tandem::cli {

int run_train_models(const std::string& file, const po::variables_map& vm) {
  MultiModelRunFile run;
  try {
    run = load_multi_model_run_file(file);
  } catch (const json::ParseError& e) {
    throw UsageError(e.what());
  }
  TrainOptions opts;
  opts.resume = vm.count("resume") > 0;
  opts.progress = vm.count("quiet") == 0;
  if (vm.count("stop-after")) opts.stop_after = vm["stop-after"].as<int64_t>();
  try {
    for (const ModelSummary& m : train_models(run, opts)) {
      const TrainSummary& s = m.summary;
      std::cout << m.name << ": trained " << s.steps << " steps: train loss " << s.final_loss << ", validation loss "
                << s.val_loss << " (unigram baseline " << s.unigram_baseline << "), "
                << static_cast<int64_t>(s.tokens_per_second) << " tokens/s";
      if (!s.last_checkpoint.empty()) std::cout << "; checkpoint " << s.last_checkpoint.string();
      std::cout << "\n";
    }
  } catch (const data::DataError& e) {
    throw UsageError(e.what());
  } catch (const safetensors::Error& e) {
    throw UsageError(e.what());
  }
  return kExitOk;
}

}  // namespace tandem::cli
