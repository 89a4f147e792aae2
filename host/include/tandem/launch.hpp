// `tandem launch`: one process per GPU of this node, each told who it is the way torchrun tells it
// (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT), so that the
// same binary runs under tandem launch, torchrun, mpirun or srun. NVLink multicast stays off in every
// environment it builds (NCCL_NVLS_ENABLE=0, TORCH_SYMM_MEM_DISABLE_MULTICAST=1,
// NVSHMEM_DISABLE_NVLS=1: on shared hosts multicast can take the GPUs down for everyone).
//
// Supervision: the first rank that fails (a non-zero exit, a signal, a command that cannot run) is
// named on stderr with what happened, the others get SIGTERM (tandem train/distill finish their step
// and write a checkpoint) and, after the grace period, SIGKILL; the launcher exits with the failed
// rank's status. SIGINT and SIGTERM sent to the launcher go to every rank; a second one kills them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tandem {

struct LaunchOptions {
  int32_t nproc_per_node = 1;
  int32_t nnodes = 1;
  int32_t node_rank = 0;
  std::string master_addr = "127.0.0.1";  // rank 0's host; required with several nodes
  bool master_addr_given = false;
  int32_t master_port = 29500;
  std::chrono::milliseconds grace{30'000};  // between SIGTERM and SIGKILL for the surviving ranks
};

// Throws std::invalid_argument naming the option that is out of range or missing.
void check_launch_options(const LaunchOptions& options);

// The environment rank `local_rank` of this node gets, as NAME=value entries added to (and, for
// these names, replacing) the launcher's own.
std::vector<std::pair<std::string, std::string>> launch_environment(const LaunchOptions& options, int32_t local_rank);

// Runs `command` (argv; the first is looked up in PATH) once per local rank and supervises them as
// above. Returns the exit status for the launcher: 0 when every rank exited 0; the first failed
// rank's exit status, or 128 + its signal; 127 if the command could not be run.
int launch(const LaunchOptions& options, const std::vector<std::string>& command);

}  // namespace tandem
