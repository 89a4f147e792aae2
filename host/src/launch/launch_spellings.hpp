// What `tandem launch` reads from its command line, in torchrun's spellings as well as its own, so
// that a torchrun command line works with the program name changed: options with '_' or '-'
// (--nproc_per_node), "gpu", "auto" and "cpu" as process counts, "N:N" as a node count,
// --rdzv-endpoint HOST:PORT, --standalone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem {

struct LaunchArgs {
  std::vector<std::string> own;      // the launcher's options, spelled with '-' ("--nproc-per-node=2")
  std::vector<std::string> command;  // what it starts, from "--" or the first word that is no option's
};

// Every option takes a value except --standalone and --help: a bare word right after another
// option is that option's value; the next bare word starts the command.
LaunchArgs split_launch_args(const std::vector<std::string>& args);

// --nproc-per-node: a count (1 to 1024), "gpu" (this node's GPUs; none is an error), "cpu" (its
// cores) or "auto" (its GPUs, or its cores when it has none), as torchrun counts them.
// Throws std::invalid_argument naming the value.
int32_t process_count(const std::string& value);

// --nnodes: "N" or torchrun's "MIN:MAX" with MIN == MAX (an elastic range is refused).
int32_t node_count(const std::string& value);

struct Endpoint {
  std::string host;
  int32_t port = 0;
};
// "HOST", "HOST:PORT" or "[IPv6]:PORT"; `default_port` without one.
Endpoint parse_endpoint(const std::string& value, int32_t default_port);

// A TCP port on 127.0.0.1 that nothing listens on now (torchrun's --standalone picks one so).
int32_t free_local_port();

}  // namespace tandem
