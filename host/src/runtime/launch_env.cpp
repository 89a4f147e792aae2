// read_launch_env (launch_env.hpp).
#include "runtime/launch_env.hpp"

#include <cstdlib>
#include <stdexcept>

namespace tandem {

namespace {

using Lookup = std::function<std::optional<std::string>(const char*)>;

std::optional<std::string> from_environment(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

// The first of `names` that is set, as a non-negative integer up to `max`; and which one it was.
std::optional<int64_t> integer(const Lookup& lookup, std::initializer_list<const char*> names, int64_t max,
                               std::string* which = nullptr) {
  for (const char* name : names) {
    const std::optional<std::string> text = lookup(name);
    if (!text) continue;
    char* end = nullptr;
    const long long v = std::strtoll(text->c_str(), &end, 10);
    if (end == text->c_str() || *end != '\0' || v < 0 || v > max)
      throw std::invalid_argument(std::string(name) + " is \"" + *text + "\": expected an integer in 0.." +
                                  std::to_string(max));
    if (which) *which = name;
    return v;
  }
  return std::nullopt;
}

}  // namespace

LaunchEnv read_launch_env(const Lookup& given) {
  const Lookup lookup = given ? given : Lookup(&from_environment);
  LaunchEnv env;
  constexpr int64_t kMaxRanks = 1 << 20;
  if (auto v = integer(lookup, {"RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"}, kMaxRanks, &env.rank_from))
    env.rank = static_cast<int32_t>(*v);
  if (auto v = integer(lookup, {"WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"}, kMaxRanks))
    env.world_size = static_cast<int32_t>(*v);
  if (auto v = integer(lookup, {"LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}, 1 << 16))
    env.local_rank = static_cast<int32_t>(*v);
  if (env.world_size < 1) throw std::invalid_argument("WORLD_SIZE is 0: a run has at least one rank");
  if (env.rank >= env.world_size)
    throw std::invalid_argument((env.rank_from.empty() ? std::string("RANK") : env.rank_from) + " is " +
                                std::to_string(env.rank) + ", outside a world of " + std::to_string(env.world_size));
  const std::optional<std::string> addr = lookup("MASTER_ADDR");
  if (addr) env.master_addr = *addr;
  else if (env.world_size > 1 && env.rank_from != "RANK")
    throw std::invalid_argument("MASTER_ADDR is not set: with " + std::to_string(env.world_size) +
                                " ranks started by mpirun or srun, say where rank 0 runs (MASTER_ADDR, and "
                                "MASTER_PORT unless 29500 is free there)");
  if (auto v = integer(lookup, {"MASTER_PORT"}, 65535)) env.master_port = static_cast<int32_t>(*v);
  if (env.master_port == 0) throw std::invalid_argument("MASTER_PORT is 0: give rank 0 a port to listen on");
  return env;
}

}  // namespace tandem
