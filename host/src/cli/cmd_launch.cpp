// `tandem launch`: one process per GPU of this node (tandem/launch.hpp).
#include <iostream>

#include "cli/cli.hpp"
#include "tandem/launch.hpp"

namespace tandem::cli {

int run_launch(const Args& args) {
  constexpr const char* kUsage =
      "usage: tandem launch [--nproc-per-node N] [--nnodes M --node-rank R --master-addr HOST] [--master-port P]\n"
      "                     [--grace-seconds S] [--] COMMAND [ARGS...]\n"
      "Starts COMMAND once per local rank with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK,\n"
      "MASTER_ADDR and MASTER_PORT set (torchrun's variables) and NVLink multicast off, then supervises them:\n"
      "when one rank fails it is named and the others are stopped (SIGTERM, then SIGKILL after the grace\n"
      "period); SIGINT/SIGTERM reach every rank. On each node of a multi-node run, with that node's rank:\n"
      "  tandem launch --nproc-per-node 8 --nnodes 2 --node-rank 0 --master-addr node0 -- tandem train run.json";
  // The command starts at "--" or at the first argument that is not an option of the launcher's.
  Args own, command;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    // Every option of the launcher takes a value: a bare word right after "--name" is that value.
    const bool value_of_previous = !own.empty() && own.back().rfind("--", 0) == 0 &&
                                   own.back().find('=') == std::string::npos && own.back() != "--help";
    if (args[i].rfind("--", 0) != 0 && !value_of_previous) {
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    own.push_back(args[i]);
  }
  LaunchOptions options;
  double grace = 30;
  po::options_description description("tandem launch");
  description.add_options()("nproc-per-node", po::value(&options.nproc_per_node)->default_value(1),
                            "processes on this node (one per GPU)")(
      "nnodes", po::value(&options.nnodes)->default_value(1), "nodes of the run")(
      "node-rank", po::value(&options.node_rank)->default_value(0), "this node's index (0: rank 0 runs here)")(
      "master-addr", po::value<std::string>(), "node 0's address (needed with several nodes; 127.0.0.1 alone)")(
      "master-port", po::value(&options.master_port)->default_value(29500), "rank 0's rendezvous port")(
      "grace-seconds", po::value(&grace)->default_value(30), "from SIGTERM to SIGKILL for the ranks left");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse(own, description, positional, vm, kUsage)) return kExitOk;
  if (vm.count("master-addr")) {
    options.master_addr = vm["master-addr"].as<std::string>();
    options.master_addr_given = true;
  }
  options.grace = std::chrono::milliseconds(static_cast<int64_t>(grace * 1000));
  try {
    check_launch_options(options);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (command.empty()) throw UsageError("no command to launch\n" + std::string(kUsage));
  return launch(options, command);
}

}  // namespace tandem::cli
