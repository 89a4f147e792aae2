// Which rank of a multi-process run this process is, and where the ranks meet, as the launchers say
// it: tandem launch and torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), mpirun
// (OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK) and Slurm's srun (SLURM_PROCID, SLURM_NTASKS,
// SLURM_LOCALID); the first set present wins, variable by variable. Without any, a world of one.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace tandem {

struct LaunchEnv {
  int32_t rank = 0;
  int32_t world_size = 1;
  int32_t local_rank = 0;        // the GPU of this process
  std::string master_addr = "127.0.0.1";
  int32_t master_port = 29500;
  std::string rank_from = "";    // the variable RANK came from (for messages); empty: the default
};

// Reads `lookup` (std::getenv by default). Throws std::invalid_argument naming a variable that is not
// a number or out of range, a rank outside the world, or a missing MASTER_ADDR when several ranks
// are spread by a launcher that does not set it.
LaunchEnv read_launch_env(const std::function<std::optional<std::string>(const char*)>& lookup = {});

}  // namespace tandem
