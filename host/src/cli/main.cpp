// `tandem`: the command line of the tandem runtime. Dispatches to one subcommand.
#include <iostream>
#include <new>

#include "cli/cli.hpp"
#include "tandem/data.hpp"
#include "tandem/safetensors.hpp"
#include "tandem/abi.h"

namespace {

constexpr const char* kUsage = R"(usage: tandem <command> [options]

commands:
  modules            list the loadable modules and the files that were refused
  config check       validate DeepSpeed configs
  config explain     print a config with every "auto" resolved, and why
  schedule           print a config's learning-rate schedule as CSV
  train              train a model (or several side by side) as a run file says
  distill            train a student beside a frozen teacher as a run file says
  checkpoint consolidate  one full fp32 model from an engine checkpoint
  checkpoint inspect      what checkpoints hold, each verified
  checkpoint export       a checkpoint as a Hugging Face GPT-2 directory (model.safetensors, config.json)
  generate           tokens from a trained model: greedy, temperature, top-k, top-p, with a KV cache
  eval               a model's mean cross-entropy and perplexity on a file
  estimate           model-state memory per rank under each ZeRO stage
  new module         write an out-of-tree module project (optimizer, scheduler) to start from
  launch             start a command once per GPU of this node (RANK, WORLD_SIZE, ...), supervised

`tandem <command> --help` describes a command's options.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace tandem::cli;
  if (argc < 2) {
    std::cerr << kUsage;
    return kExitBadInput;
  }
  const std::string command = argv[1];
  const Args args(argv + 2, argv + argc);
  try {
    if (command == "--help" || command == "-h" || command == "help") {
      std::cout << kUsage;
      return kExitOk;
    }
    if (command == "--version") {
      std::cout << "tandem " << TANDEM_VERSION << " (module ABI " << TANDEM_ABI_MAJOR << "." << TANDEM_ABI_MINOR
                << ")\n";
      return kExitOk;
    }
    if (command == "modules") return run_modules(args);
    if (command == "config") return run_config(args);
    if (command == "schedule") return run_schedule(args);
    if (command == "train") return run_train(args);
    if (command == "distill") return run_distill(args);
    if (command == "checkpoint") return run_checkpoint(args);
    if (command == "estimate") return run_estimate(args);
    if (command == "new") return run_new(args);
    if (command == "launch") return run_launch(args);
    if (command == "generate") return run_generate(args);
    if (command == "eval") return run_eval(args);
    std::cerr << "tandem: unknown command '" << command << "'\n\n" << kUsage;
    return kExitBadInput;
  } catch (const UsageError& e) {
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const tandem::json::ParseError& e) {  // a run file or manifest that is not JSON
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  } catch (const tandem::data::DataError& e) {  // a missing, empty or corrupt data file
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const tandem::safetensors::Error& e) {  // weights that do not fit the model
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const tandem::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  } catch (const tandem::ModuleError& e) {
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const tandem::PluginError& e) {
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::invalid_argument& e) {
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::bad_alloc&) {
    // An allocation the memory check did not foresee (or --skip-memory-check let through): a clear
    // end, not std::terminate. Checkpoints already written are whole (each is renamed into place
    // only when complete).
    std::cerr << "tandem " << command
              << ": out of memory: an allocation failed (std::bad_alloc); the checkpoints written so far are intact. "
                 "Make the model or micro_batch smaller, or give the process more memory (ulimit -v, the cgroup's "
                 "memory.max)\n";
    return kExitFailed;
  } catch (const std::exception& e) {
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitFailed;
  }
}
