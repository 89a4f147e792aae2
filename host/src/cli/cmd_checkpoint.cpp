// `tandem checkpoint consolidate DIR OUT.safetensors`: one full fp32 model from an engine checkpoint
// (see tandem/checkpoint.hpp).
#include <iostream>

#include "cli/cli.hpp"
#include "tandem/checkpoint.hpp"

namespace tandem::cli {

namespace {

constexpr const char* kUsage =
    "usage: tandem checkpoint consolidate DIR OUT.safetensors [--overwrite]\n"
    "Writes one safetensors file with every parameter in fp32, rebuilt from the ranks' fp32 master shards\n"
    "of an engine checkpoint (any ZeRO stage, any world size) with the layout it records. DIR is a\n"
    "checkpoint (engine.json, model.safetensors, rank<R>.safetensors) or a checkpoint_dir with `latest`.\n"
    "An existing OUT is replaced only with --overwrite, and only when it is a regular file that is not\n"
    "one of the checkpoint's own.";

int consolidate(const Args& args) {
  std::vector<std::string> paths;
  po::options_description options("tandem checkpoint consolidate");
  options.add_options()("path", po::value(&paths), "DIR and OUT.safetensors")(
      "overwrite", "replace an existing OUT (a regular file)");
  po::positional_options_description positional;
  positional.add("path", 2);
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kUsage)) return kExitOk;
  if (paths.size() != 2) throw UsageError(std::string("need DIR and OUT.safetensors\n") + kUsage);
  try {
    const ConsolidateReport r = consolidate_checkpoint(paths[0], paths[1], vm.count("overwrite") > 0);
    std::cout << paths[1] << ": " << r.tensors << " tensors, " << r.parameters << " parameters in fp32, "
              << (r.from_shards ? "rebuilt from the master shards of " + std::to_string(r.world_size) +
                                      " ranks under ZeRO-" + std::to_string(r.stage)
                                : std::string("copied from model.safetensors (the checkpoint has no optimizer state)"))
              << "\n";
  } catch (const CheckpointError& e) {
    throw UsageError(e.what());
  } catch (const std::invalid_argument& e) {  // OUT refused before anything was read
    throw UsageError(e.what());
  }
  return kExitOk;
}

}  // namespace

int run_checkpoint(const Args& args) {
  if (args.empty() || (args[0] != "consolidate" && args[0] != "--help" && args[0] != "-h"))
    throw UsageError(std::string("unknown or missing subcommand\n") + kUsage);
  if (args[0] != "consolidate") {
    std::cout << kUsage << "\n";
    return kExitOk;
  }
  return consolidate(Args(args.begin() + 1, args.end()));
}

}  // namespace tandem::cli
