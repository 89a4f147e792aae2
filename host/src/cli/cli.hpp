// The `tandem` command line: one function per subcommand, sharing option groups from here.
// Exit codes: 0 success, 1 a run that failed, 2 bad input (the reason on stderr), 3 a checkpoint
// that could not be written (train, distill), 128 + signo a run stopped by SIGINT/SIGTERM after
// writing its checkpoint (130, 143: what shells report for a process those signals ended).
#pragma once

#include <boost/program_options.hpp>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "tandem/accelerator.hpp"
#include "tandem/inference.hpp"
#include "tandem/train.hpp"

namespace tandem::cli {

namespace po = boost::program_options;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitCheckpointWrite = 3;

// Thrown for bad command-line input; main() prints it and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Args = std::vector<std::string>;  // a subcommand's arguments, after its name

int run_modules(const Args& args);
int run_config(const Args& args);  // check | explain
int run_schedule(const Args& args);
int run_train(const Args& args);
// `tandem train` on a run file with "models" (tandem/train_models.hpp), with train's parsed options.
int run_distill(const Args& args);
int run_checkpoint(const Args& args);  // consolidate
int run_estimate(const Args& args);
int run_new(const Args& args);  // new module: an out-of-tree module project from a template
int run_launch(const Args& args);  // one process per GPU, supervised (tandem/launch.hpp)
int run_tokenize(const Args& args);  // text to llm.c token files (tandem/data.hpp, tandem/tokenizer.hpp)

int run_plot(const Args& args);    // metrics files drawn as a PNG (cli/plot/)

int run_generate(const Args& args);  // tokens from a trained model (tandem/generate.hpp)
int run_eval(const Args& args);      // loss and perplexity on a file (tandem/eval.hpp)

// --module-path DIR (repeatable).
void add_module_path_option(po::options_description& options, std::vector<std::string>& dirs);
std::vector<std::filesystem::path> to_paths(const std::vector<std::string>& dirs);

// --model JSON, --model-type, --module-path: how generate, eval and export load a model.
struct InferenceFlags {
  std::string model_json;
  std::string model_type = "gpt";
  std::vector<std::string> module_path;
};
void add_inference_options(po::options_description& options, InferenceFlags& flags);
// InferenceModel::load with the flags; a checkpoint that cannot be read is a UsageError (exit 2).
InferenceModel load_inference_model(const std::string& source, const InferenceFlags& flags);

// The run's facts that "auto" values resolve from: --hidden-size, --world-size, --micro-batch,
// --grad-accum, --lr, --weight-decay, --warmup-steps, --total-steps, --mixed-precision.
struct RunFacts {
  PrepareInputs prepare;
  AcceleratorOptions accelerator;
};
void add_run_fact_options(po::options_description& options);
RunFacts read_run_facts(const po::variables_map& vm, const std::vector<std::string>& module_path);

// --resume, --quiet, --stop-after N: the flags of `tandem train` and `tandem distill`.
struct RunFlags {
  bool resume = false;
  std::filesystem::path resume_from;  // --resume PATH; empty: the newest checkpoint in checkpoint_dir
  bool overwrite = false;
  bool progress = true;
  bool skip_memory_check = false;
  std::optional<int64_t> stop_after;
  std::vector<std::filesystem::path> module_path;  // --module-path DIR, repeatable
};
void add_run_flag_options(po::options_description& options);
// The arguments with "--resume PATH" joined into "--resume=PATH", so that the option's value is
// optional and PATH is not taken for the run file (see options.cpp for the rule).
Args join_resume_path(const Args& args);
RunFlags read_run_flags(const po::variables_map& vm);
// "trained N steps: train loss X, validation loss Y (unigram baseline Z), T tokens/s; checkpoint C"
// " (did you mean --NAME?)" for an option that is not one of `options` but near one, else "".
std::string did_you_mean(const std::string& option, const po::options_description& options);

// A loss as printed, or `none` when there is none (no step ran, no validation data).
std::string loss_text(const std::optional<double>& loss, const char* none);
void print_training_summary(std::ostream& out, const TrainSummary& s);

// Parses `args` against `options` (with `positional`), handling --help: returns false when help was
// printed. Throws UsageError for unknown or malformed options.
bool parse(const Args& args, const po::options_description& options, const po::positional_options_description& positional,
           po::variables_map& vm, const std::string& usage);

}  // namespace tandem::cli
