#include "cli/commands.hpp"

namespace tandem::cli {

namespace {

// In the order `tandem --help` lists them. A new command is one line here (and its cmd_*.cpp).
constexpr Command kCommands[] = {
    {"modules", "", "list the loadable modules and the files that were refused", run_modules},
    {"config", "check | explain", "validate DeepSpeed configs; print one with every \"auto\" resolved, and why",
     run_config},
    {"schedule", "", "print a config's learning-rate schedule as CSV", run_schedule},
    {"train", "", "train a model (or several side by side) as a run file says", run_train},
    {"distill", "", "train a student beside a frozen teacher as a run file says", run_distill},
    {"tokenize", "", "encode a text file (GPT-2's BPE, a tokenizer.json, or bytes) into llm.c token files",
     run_tokenize},
    {"plot", "", "draw the loss (and lr, tokens/s) of runs' metrics files against step, as a PNG", run_plot},
    {"checkpoint", "consolidate | inspect | export",
     "one full fp32 model from a checkpoint; verify checkpoints; export one to Hugging Face",
     run_checkpoint},
    {"generate", "", "tokens from a trained model: greedy, temperature, top-k, top-p, with a KV cache", run_generate},
    {"eval", "", "a model's mean cross-entropy and perplexity on a file", run_eval},
    {"estimate", "", "model-state memory per rank under each ZeRO stage", run_estimate},
    {"new", "module", "write an out-of-tree module project (optimizer, scheduler) to start from", run_new},
    {"launch", "", "start a command once per GPU of this node (RANK, WORLD_SIZE, ...), supervised", run_launch},
};

}  // namespace

std::span<const Command> commands() { return kCommands; }

const Command* find_command(std::string_view name) {
  for (const Command& c : kCommands)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace tandem::cli
