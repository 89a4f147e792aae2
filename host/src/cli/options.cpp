// Option groups shared by several subcommands, and the parse step with --help.
#include <algorithm>
#include <iostream>
#include <set>
#include <sstream>

#include "cli/cli.hpp"
#include "text/near_miss.hpp"

namespace tandem::cli {

void add_module_path_option(po::options_description& options, std::vector<std::string>& dirs) {
  options.add_options()("module-path", po::value(&dirs)->composing(),
                        "a directory of modules, scanned after the default ones (repeatable)");
}

std::vector<std::filesystem::path> to_paths(const std::vector<std::string>& dirs) {
  return {dirs.begin(), dirs.end()};
}

void add_run_fact_options(po::options_description& options) {
  options.add_options()
      ("hidden-size", po::value<int64_t>(), "the model's hidden size (bucket sizes, persistence threshold)")
      ("world-size", po::value<int64_t>()->default_value(1), "data-parallel ranks")
      ("micro-batch", po::value<int64_t>(), "batch size per rank (as the data loader's)")
      ("grad-accum", po::value<int64_t>(), "gradient accumulation steps")
      ("lr", po::value<double>(), "the optimizer's learning rate")
      ("weight-decay", po::value<double>(), "the optimizer's weight decay")
      ("warmup-steps", po::value<int64_t>(), "warm-up steps of the schedule")
      ("total-steps", po::value<int64_t>(), "optimizer steps of the run")
      ("mixed-precision", po::value<std::string>()->default_value("no"), "no, fp16 or bf16 (fills an \"auto\" enabled)");
}

RunFacts read_run_facts(const po::variables_map& vm, const std::vector<std::string>& module_path) {
  RunFacts facts;
  auto optional_int = [&](const char* name) -> std::optional<int64_t> {
    if (!vm.count(name)) return std::nullopt;
    return vm[name].as<int64_t>();
  };
  auto optional_double = [&](const char* name) -> std::optional<double> {
    if (!vm.count(name)) return std::nullopt;
    return vm[name].as<double>();
  };
  facts.prepare.hidden_size = optional_int("hidden-size");
  facts.prepare.micro_batch = optional_int("micro-batch");
  facts.prepare.lr = optional_double("lr");
  facts.prepare.weight_decay = optional_double("weight-decay");
  facts.prepare.warmup_steps = optional_int("warmup-steps");
  facts.prepare.total_steps = optional_int("total-steps");
  facts.accelerator.world_size = vm["world-size"].as<int64_t>();
  facts.accelerator.gradient_accumulation_steps = optional_int("grad-accum");
  const std::string mp = vm["mixed-precision"].as<std::string>();
  const std::optional<MixedPrecision> precision = parse_mixed_precision(mp);
  if (!precision) throw UsageError("--mixed-precision must be no, fp16 or bf16, not '" + mp + "'");
  facts.accelerator.mixed_precision = *precision;
  facts.accelerator.module_path = to_paths(module_path);
  if (facts.accelerator.world_size < 1) throw UsageError("--world-size must be at least 1");
  for (const char* name : {"hidden-size", "micro-batch", "grad-accum"})
    if (auto v = optional_int(name); v && *v < 1) throw UsageError(std::string("--") + name + " must be at least 1");
  for (const char* name : {"warmup-steps", "total-steps"})
    if (auto v = optional_int(name); v && *v < 0) throw UsageError(std::string("--") + name + " must not be negative");
  return facts;
}

void add_run_flag_options(po::options_description& options) {
  options.add_options()("resume", po::value<std::string>()->implicit_value("")->value_name("PATH"),
                        "continue from the newest checkpoint in checkpoint_dir, or from the checkpoint PATH (a step-N "
                        "directory of this run or another, read and never changed)")(
      "overwrite", "start over in a checkpoint_dir that holds a run, and replace an existing metrics file")(
      "quiet,q", "no progress on stderr")(
      "skip-memory-check", "build the models even where they are estimated not to fit in memory")("stop-after", po::value<int64_t>(),
                                           "stop (with a checkpoint) after this optimizer step")(
      "module-path", po::value<std::vector<std::string>>()->composing(),
      "also load modules from DIR (repeatable; after the default directories and TANDEM_MODULE_PATH)");
}

Args join_resume_path(const Args& args) {
  // "--resume PATH": PATH is the next argument unless it is an option or a regular file (the run
  // file: checkpoints are directories). One that does not exist is PATH too, and is refused by name.
  Args out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::error_code ec;
    if (args[i] == "--resume" && i + 1 < args.size() && !args[i + 1].empty() && args[i + 1][0] != '-' &&
        !std::filesystem::is_regular_file(args[i + 1], ec)) {
      out.push_back("--resume=" + args[i + 1]);
      ++i;
    } else {
      out.push_back(args[i]);
    }
  }
  return out;
}

RunFlags read_run_flags(const po::variables_map& vm) {
  RunFlags flags;
  flags.resume = vm.count("resume") > 0;
  if (flags.resume) flags.resume_from = vm["resume"].as<std::string>();
  flags.overwrite = vm.count("overwrite") > 0;
  if (flags.resume && flags.overwrite) throw UsageError("--resume and --overwrite exclude each other");
  flags.progress = vm.count("quiet") == 0;
  flags.skip_memory_check = vm.count("skip-memory-check") > 0;
  if (vm.count("stop-after")) {
    flags.stop_after = vm["stop-after"].as<int64_t>();
    if (*flags.stop_after < 1) throw UsageError("--stop-after must be an optimizer step, at least 1");
  }
  if (vm.count("module-path")) flags.module_path = to_paths(vm["module-path"].as<std::vector<std::string>>());
  return flags;
}

std::string loss_text(const std::optional<double>& loss, const char* none) {
  if (!loss) return none;
  std::ostringstream text;
  text << *loss;
  return text.str();
}

void print_training_summary(std::ostream& out, const TrainSummary& s) {
  if (s.already_finished) {
    out << "the run had already done its " << s.steps << " steps";
    if (!s.last_checkpoint.empty()) out << " (checkpoint " << s.last_checkpoint.string() << ")";
    out << ": nothing trained; validation loss " << loss_text(s.val_loss, "not measured (no validation data)")
        << "; raise \"steps\" to train further\n";
    return;
  }
  out << "trained " << s.steps << " steps";
  if (s.skipped_steps > 0) out << " (" << s.skipped_steps << " skipped)";
  out << ": train loss " << loss_text(s.final_loss, "none") << ", validation loss "
      << loss_text(s.val_loss, "not measured (no validation data)") << " (unigram baseline " << s.unigram_baseline
      << "), " << static_cast<int64_t>(s.tokens_per_second) << " tokens/s";
  if (!s.last_checkpoint.empty()) out << "; checkpoint " << s.last_checkpoint.string();
  // Flushed now, while a SignalWatcher still holds SIGPIPE: a closed stdout then fails this write
  // (EPIPE) instead of killing the process in stdio's flush at exit.
  out << std::endl;
}

namespace {

// The options a user sees in --help and "did you mean": all but those that only carry positional
// arguments (RUN.json, DIR, FILE...: the usage line names them; "--file arg" would be plumbing).
po::options_description visible_options(const po::options_description& all,
                                        const po::positional_options_description& positional) {
  std::set<std::string> hidden;
  const unsigned last = std::min(positional.max_total_count(), 16u);
  for (unsigned i = 0; i < last; ++i) hidden.insert(positional.name_for_position(i));
  po::options_description visible("options");
  for (const auto& o : all.options())
    if (!hidden.contains(o->long_name())) visible.add(o);
  return visible;
}

}  // namespace

bool parse(const Args& args, const po::options_description& options, const po::positional_options_description& positional,
           po::variables_map& vm, const std::string& usage) {
  po::options_description all(options);
  all.add_options()("help,h", "show this help");
  const po::options_description visible = visible_options(all, positional);
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n" << visible << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    throw UsageError(std::string(e.what()) + did_you_mean(e.get_option_name(), visible) + "\n" + usage);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + "\n" + usage);
  }
  return true;
}

std::string did_you_mean(const std::string& option, const po::options_description& options) {
  std::vector<std::string_view> names;
  for (const auto& o : options.options()) names.push_back(o->long_name());
  std::string_view word = option;
  while (!word.empty() && word.front() == '-') word.remove_prefix(1);
  const std::optional<std::string> near = text::nearest_name(word, names);
  return near ? " (did you mean --" + *near + "?)" : "";
}

}  // namespace tandem::cli
