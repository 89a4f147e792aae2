// `tandem launch`: one process per GPU of this node (tandem/launch.hpp), with torchrun's spellings
// (launch_spellings.hpp): --nproc_per_node or --nproc-per-node, "gpu"/"auto"/"cpu" as counts,
// --standalone, --rdzv-endpoint.
#include <iostream>

#include "cli/cli.hpp"
#include "launch/launch_spellings.hpp"
#include "tandem/launch.hpp"

namespace tandem::cli {

int run_launch(const Args& args) {
  constexpr const char* kUsage =
      "usage: tandem launch [--nproc-per-node N|gpu|auto|cpu] [--nnodes M --node-rank R --master-addr HOST]\n"
      "                     [--master-port P] [--standalone] [--rdzv-endpoint HOST[:PORT]]\n"
      "                     [--grace-seconds S] [--] COMMAND [ARGS...]\n"
      "Starts COMMAND once per local rank with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK,\n"
      "MASTER_ADDR and MASTER_PORT set (torchrun's variables) and NVLink multicast off, then supervises them:\n"
      "when one rank fails it is named and the others are stopped (SIGTERM, then SIGKILL after the grace\n"
      "period); SIGINT/SIGTERM reach every rank. torchrun's spellings work: --nproc_per_node as well as\n"
      "--nproc-per-node; gpu (this node's GPUs), auto (its GPUs, or its CPUs without one) and cpu as counts;\n"
      "--standalone (one node, a free local port); --rdzv-endpoint HOST:PORT for --master-addr/--master-port.\n"
      "On each node of a multi-node run, with that node's rank:\n"
      "  tandem launch --nproc-per-node 8 --nnodes 2 --node-rank 0 --master-addr node0 -- tandem train run.json";
  const LaunchArgs split = split_launch_args(args);
  std::string nproc = "1", nnodes = "1", rdzv_endpoint, rdzv_backend = "static";
  LaunchOptions options;
  double grace = 30;
  int max_restarts = 0;
  po::options_description description("tandem launch");
  description.add_options()("nproc-per-node", po::value(&nproc)->default_value("1"),
                            "processes on this node: a count, gpu, auto or cpu")(
      "nnodes", po::value(&nnodes)->default_value("1"), "nodes of the run (N, or torchrun's N:N)")(
      "node-rank", po::value(&options.node_rank)->default_value(0), "this node's index (0: rank 0 runs here)")(
      "master-addr", po::value<std::string>(), "node 0's address (needed with several nodes; 127.0.0.1 alone)")(
      "master-port", po::value(&options.master_port)->default_value(29500), "rank 0's rendezvous port")(
      "standalone", "one node on this machine, on a free local port (torchrun's --standalone)")(
      "rdzv-endpoint", po::value(&rdzv_endpoint), "HOST[:PORT] where rank 0 listens (torchrun's spelling)")(
      "rdzv-backend", po::value(&rdzv_backend), "static or c10d: both mean rank 0 at the endpoint")(
      "rdzv-id", po::value<std::string>(), "accepted for torchrun's command lines; one run per port here")(
      "max-restarts", po::value(&max_restarts)->default_value(0), "0: a failed rank ends the run")(
      "grace-seconds", po::value(&grace)->default_value(30), "from SIGTERM to SIGKILL for the ranks left");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse(split.own, description, positional, vm, kUsage)) return kExitOk;
  try {
    options.nproc_per_node = process_count(nproc);
    options.nnodes = node_count(nnodes);
    if (vm.count("master-addr")) {
      options.master_addr = vm["master-addr"].as<std::string>();
      options.master_addr_given = true;
    }
    if (!rdzv_endpoint.empty()) {
      if (vm.count("master-addr") || !vm["master-port"].defaulted())
        throw std::invalid_argument("--rdzv-endpoint and --master-addr/--master-port say the same thing: give one");
      const Endpoint e = parse_endpoint(rdzv_endpoint, options.master_port);
      options.master_addr = e.host;
      options.master_addr_given = true;
      options.master_port = e.port;
    }
    if (rdzv_backend != "static" && rdzv_backend != "c10d")
      throw std::invalid_argument("--rdzv-backend " + rdzv_backend +
                                  ": tandem's rendezvous is rank 0 at the endpoint (static or c10d); no etcd");
    if (max_restarts != 0)
      throw std::invalid_argument("--max-restarts " + std::to_string(max_restarts) +
                                  ": tandem does not restart ranks; a failed rank ends the run (resume it with --resume)");
    if (vm.count("standalone")) {
      if (options.nnodes != 1 || options.master_addr_given)
        throw std::invalid_argument("--standalone is one node on this machine: leave out --nnodes, --master-addr "
                                    "and --rdzv-endpoint");
      options.master_addr = "127.0.0.1";
      options.master_port = free_local_port();
    }
    options.grace = std::chrono::milliseconds(static_cast<int64_t>(grace * 1000));
    check_launch_options(options);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (split.command.empty()) throw UsageError("no command to launch\n" + std::string(kUsage));
  return launch(options, split.command);
}

}  // namespace tandem::cli
