// `tandem schedule`: the learning rate (and momentum) each optimizer step uses, as CSV.
#include <iostream>

#include "cli/cli.hpp"

namespace tandem::cli {

int run_schedule(const Args& args) {
  constexpr const char* kUsage =
      "usage: tandem schedule FILE --steps N [--hidden-size H] [--world-size N] [--micro-batch B]\n"
      "           [--grad-accum G] [--lr X] [--weight-decay X] [--warmup-steps N] [--total-steps N]\n"
      "Prints CSV `step,lr` (and `momentum` where the schedule sets it), one row per optimizer step,\n"
      "as DeepSpeed's engine applies the config's scheduler: the values are read before each step and\n"
      "the scheduler is stepped after it.";
  std::string file;
  int64_t steps = 0;
  std::vector<std::string> dirs;
  po::options_description options("tandem schedule");
  add_module_path_option(options, dirs);
  add_run_fact_options(options);
  options.add_options()("steps", po::value(&steps)->required(), "optimizer steps to print")(
      "file", po::value(&file), "the config file");
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kUsage)) return kExitOk;
  if (file.empty()) throw UsageError(std::string("no config file given\n") + kUsage);
  if (steps < 0) throw UsageError("--steps must not be negative");

  RunFacts facts = read_run_facts(vm, dirs);
  // A schedule's "auto" total steps is the number of steps asked for, unless given.
  if (!facts.prepare.total_steps) facts.prepare.total_steps = steps;
  PluginSet plugins;
  plugins.add("scheduled", DeepSpeedPlugin(load_config_file(file)));
  State::reset();
  Accelerator accelerator(std::move(plugins), facts.accelerator);
  Prepared prepared = accelerator.prepare(facts.prepare);
  for (const ConfigIssue& w : prepared.config().warnings) std::cerr << "warning: " << w.to_string() << "\n";
  LrScheduler* scheduler = prepared.scheduler();
  if (scheduler == nullptr)
    throw UsageError(file + ": the config has no \"scheduler\" block; the lr stays at the optimizer's");
  write_schedule_csv(std::cout, schedule_table(*scheduler, steps));
  return kExitOk;
}

}  // namespace tandem::cli
