// Which rank a process is, as the launchers say it (host/src/runtime/launch_env.hpp): torchrun's and
// tandem launch's variables, mpirun's, Slurm's; defaults for a process started alone; every bad
// value refused by name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "runtime/launch_env.hpp"

namespace tandem {
namespace {

using ::testing::HasSubstr;

LaunchEnv read(const std::map<std::string, std::string>& vars) {
  return read_launch_env([&](const char* name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

std::string error_of(const std::map<std::string, std::string>& vars) {
  try {
    read(vars);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(LaunchEnv, AloneIsAWorldOfOneOnGpuZero) {
  const LaunchEnv env = read({});
  EXPECT_EQ(env.rank, 0);
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.local_rank, 0);
  EXPECT_EQ(env.master_addr, "127.0.0.1");
  EXPECT_EQ(env.master_port, 29500);
}

TEST(LaunchEnv, TorchrunsVariables) {
  const LaunchEnv env = read({{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node3"},
                              {"MASTER_PORT", "12355"}});
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.master_addr, "node3");
  EXPECT_EQ(env.master_port, 12355);
}

TEST(LaunchEnv, MpirunsAndSlurmsVariables) {
  LaunchEnv env = read({{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "4"},
                        {"OMPI_COMM_WORLD_LOCAL_RANK", "3"}, {"MASTER_ADDR", "10.0.0.1"}});
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.local_rank, 3);
  env = read({{"SLURM_PROCID", "9"}, {"SLURM_NTASKS", "16"}, {"SLURM_LOCALID", "1"}, {"MASTER_ADDR", "n0"}});
  EXPECT_EQ(env.rank, 9);
  EXPECT_EQ(env.world_size, 16);
  EXPECT_EQ(env.local_rank, 1);
  // torchrun's names win where both are set (a torchrun job inside a Slurm allocation).
  env = read({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"SLURM_PROCID", "7"}, {"SLURM_NTASKS", "16"}});
  EXPECT_EQ(env.rank, 1);
  EXPECT_EQ(env.world_size, 2);
}

TEST(LaunchEnv, BadValuesAreRefusedByName) {
  EXPECT_THAT(error_of({{"RANK", "two"}}), HasSubstr("RANK is \"two\""));
  EXPECT_THAT(error_of({{"WORLD_SIZE", "-1"}}), HasSubstr("WORLD_SIZE is \"-1\""));
  EXPECT_THAT(error_of({{"WORLD_SIZE", "0"}}), HasSubstr("at least one rank"));
  EXPECT_THAT(error_of({{"RANK", "4"}, {"WORLD_SIZE", "4"}}), HasSubstr("RANK is 4, outside a world of 4"));
  EXPECT_THAT(error_of({{"SLURM_PROCID", "4"}, {"SLURM_NTASKS", "2"}, {"MASTER_ADDR", "n0"}}),
              HasSubstr("SLURM_PROCID is 4"));
  EXPECT_THAT(error_of({{"LOCAL_RANK", "1x"}}), HasSubstr("LOCAL_RANK is \"1x\""));
  EXPECT_THAT(error_of({{"MASTER_PORT", "70000"}}), HasSubstr("MASTER_PORT is \"70000\""));
  EXPECT_THAT(error_of({{"MASTER_PORT", "0"}}), HasSubstr("MASTER_PORT is 0"));
  EXPECT_THAT(error_of({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}}), HasSubstr("MASTER_ADDR is not set"));
}

}  // namespace
}  // namespace tandem
