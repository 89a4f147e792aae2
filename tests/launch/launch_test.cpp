// `tandem launch` with several processes on this machine: the variables every rank gets (one node
// and the second of two), a failing rank named and the others stopped, a command that cannot run,
// the ranks meeting through the TCP rendezvous the nccl communicator uses, a rank that stops answering
// (SIGSTOP) named by the others' heartbeat watch and the run ended, SIGTERM passed on to every rank,
// and the refusals of bad options.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "../common/free_port.hpp"

namespace tandem {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const std::string kTandem = std::string(TANDEM_TEST_BINARY_DIR) + "/bin/tandem";
const std::string kProbe = std::string(TANDEM_TEST_BINARY_DIR) + "/bin/launch_probe";

struct Result {
  int code = -1;
  std::string output;  // stderr and stdout
  double seconds = 0;
};

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("tandem-launch-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

Result run(const std::string& arguments, const fs::path& dir) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string log = (dir / "launcher.log").string();
  const int status = std::system((kTandem + " launch " + arguments + " > " + log + " 2>&1").c_str());
  Result r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  r.output = text.str();
  return r;
}

std::string read(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

using test::free_port;

TEST(Launch, EveryRankGetsTorchrunsVariablesAndMulticastOff) {
  const fs::path dir = fresh_dir("env");
  const Result r = run("--nproc-per-node 3 --master-port 12345 -- " + kProbe + " " + dir.string() + " env", dir);
  ASSERT_EQ(r.code, 0) << r.output;
  for (int rank = 0; rank < 3; ++rank) {
    const std::string env = read(dir / ("rank" + std::to_string(rank) + ".env"));
    EXPECT_THAT(env, HasSubstr("RANK=" + std::to_string(rank) + "\n"));
    EXPECT_THAT(env, HasSubstr("WORLD_SIZE=3\n"));
    EXPECT_THAT(env, HasSubstr("LOCAL_RANK=" + std::to_string(rank) + "\n"));
    EXPECT_THAT(env, HasSubstr("LOCAL_WORLD_SIZE=3\n"));
    EXPECT_THAT(env, HasSubstr("GROUP_RANK=0\n"));
    EXPECT_THAT(env, HasSubstr("MASTER_ADDR=127.0.0.1\n"));
    EXPECT_THAT(env, HasSubstr("MASTER_PORT=12345\n"));
    EXPECT_THAT(env, HasSubstr("NCCL_NVLS_ENABLE=0\n"));
    EXPECT_THAT(env, HasSubstr("TORCH_SYMM_MEM_DISABLE_MULTICAST=1\n"));
    EXPECT_THAT(env, HasSubstr("NVSHMEM_DISABLE_NVLS=1\n"));
  }
  fs::remove_all(dir);
}

// A torchrun command line works with the program's name changed: '_' spellings, --rdzv-endpoint,
// --standalone, "cpu" as a count; what tandem cannot do is refused by name.
TEST(Launch, TorchrunsSpellingsWork) {
  const fs::path dir = fresh_dir("torchrun");
  Result r = run("--nproc_per_node=2 --rdzv_endpoint 127.0.0.1:12399 --rdzv-backend c10d --rdzv_id job7 " + kProbe +
                     " " + dir.string() + " env",
                 dir);
  ASSERT_EQ(r.code, 0) << r.output;
  for (int rank = 0; rank < 2; ++rank) {
    const std::string env = read(dir / ("rank" + std::to_string(rank) + ".env"));
    EXPECT_THAT(env, HasSubstr("WORLD_SIZE=2\n"));
    EXPECT_THAT(env, HasSubstr("MASTER_ADDR=127.0.0.1\n"));
    EXPECT_THAT(env, HasSubstr("MASTER_PORT=12399\n"));
  }
  fs::remove_all(dir);
  fs::create_directories(dir);
  r = run("--standalone --nproc-per-node 2 " + kProbe + " " + dir.string() + " env", dir);
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string env0 = read(dir / "rank0.env"), env1 = read(dir / "rank1.env");
  const auto port = [](const std::string& env) {
    const size_t at = env.find("MASTER_PORT=");
    return at == std::string::npos ? std::string() : env.substr(at, env.find('\n', at) - at);
  };
  EXPECT_FALSE(port(env0).empty());
  EXPECT_EQ(port(env0), port(env1));
  EXPECT_NE(port(env0), "MASTER_PORT=29500") << "a free port, not the default";
  fs::remove_all(dir);
  fs::create_directories(dir);
  r = run("--nproc-per-node cpu " + kProbe + " " + dir.string() + " env", dir);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_THAT(read(dir / "rank0.env"),
              HasSubstr("WORLD_SIZE=" + std::to_string(std::max(1u, std::thread::hardware_concurrency())) + "\n"));
  fs::remove_all(dir);
}

TEST(Launch, WhatTorchrunDoesAndTandemCannotIsRefusedByName) {
  const fs::path dir = fresh_dir("refused");
  for (const auto& [arguments, reason] : std::vector<std::pair<std::string, std::string>>{
           {"--nnodes 1:4", "--nnodes 1:4: an elastic range"},
           {"--max_restarts 3", "--max-restarts 3: tandem does not restart ranks"},
           {"--rdzv-backend etcd", "--rdzv-backend etcd: tandem's rendezvous is rank 0 at the endpoint"},
           {"--standalone --nnodes 2", "--standalone is one node on this machine"},
           {"--rdzv-endpoint host:1 --master-port 2", "--rdzv-endpoint and --master-addr/--master-port"},
           {"--nproc-per-nodes 2", "unrecognised option '--nproc-per-nodes' (did you mean --nproc-per-node?)"},
           {"--nproc-per-node two", "--nproc-per-node two: expected a count from 1 to 1024"}}) {
    const Result r = run(arguments + " -- " + kProbe + " " + dir.string() + " env", dir);
    EXPECT_EQ(r.code, 2) << arguments << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr(reason)) << arguments;
  }
  EXPECT_FALSE(fs::exists(dir / "rank0.env")) << "nothing was started";
  fs::remove_all(dir);
}

TEST(Launch, TheSecondNodeNumbersItsRanksAfterTheFirst) {
  const fs::path dir = fresh_dir("node1");
  const Result r = run("--nproc-per-node 2 --nnodes 2 --node-rank 1 --master-addr node0.example -- " + kProbe + " " +
                           dir.string() + " env",
                       dir);
  ASSERT_EQ(r.code, 0) << r.output;
  for (int local = 0; local < 2; ++local) {
    const std::string env = read(dir / ("rank" + std::to_string(2 + local) + ".env"));
    EXPECT_THAT(env, HasSubstr("LOCAL_RANK=" + std::to_string(local) + "\n"));
    EXPECT_THAT(env, HasSubstr("WORLD_SIZE=4\n"));
    EXPECT_THAT(env, HasSubstr("GROUP_RANK=1\n"));
    EXPECT_THAT(env, HasSubstr("MASTER_ADDR=node0.example\n"));
  }
  fs::remove_all(dir);
}

TEST(Launch, AFailingRankIsNamedAndTheOthersAreStopped) {
  const fs::path dir = fresh_dir("fail");
  const Result r = run("--nproc-per-node 3 -- " + kProbe + " " + dir.string() + " fail:1:7", dir);
  EXPECT_EQ(r.code, 7) << r.output;
  EXPECT_THAT(r.output, HasSubstr("rank 1 (pid"));
  EXPECT_THAT(r.output, HasSubstr("exited with status 7; stopping the other ranks"));
  EXPECT_LT(r.seconds, 20.0) << "the others were stopped, not waited for";
  for (int rank : {0, 2}) {
    // Each survivor either was stopped by SIGTERM or had not got as far as waiting for it.
    const fs::path signal = dir / ("rank" + std::to_string(rank) + ".signal");
    if (fs::exists(signal)) {
      EXPECT_EQ(read(signal), std::to_string(SIGTERM) + "\n") << "rank " << rank;
    }
  }
  fs::remove_all(dir);
}

TEST(Launch, ACommandThatCannotRunIsSaidSo) {
  const fs::path dir = fresh_dir("noexec");
  const Result r = run("--nproc-per-node 2 -- /no/such/program", dir);
  EXPECT_EQ(r.code, 127);
  EXPECT_THAT(r.output, HasSubstr("cannot run '/no/such/program': No such file or directory"));
  fs::remove_all(dir);
}

TEST(Launch, TheRanksMeetThroughTheRendezvous) {
  const fs::path dir = fresh_dir("rendezvous");
  const Result r = run("--nproc-per-node 4 --master-port " + std::to_string(free_port()) + " -- " + kProbe + " " +
                           dir.string() + " rendezvous",
                       dir);
  ASSERT_EQ(r.code, 0) << r.output;
  for (int rank = 0; rank < 4; ++rank) EXPECT_EQ(read(dir / ("rank" + std::to_string(rank) + ".blob")), "met");
  fs::remove_all(dir);
}

TEST(Launch, ARankThatStopsAnsweringIsNamedAndTheRunEnds) {
  const fs::path dir = fresh_dir("hang");
  const Result r = run("--nproc-per-node 3 --grace-seconds 1 --master-port " + std::to_string(free_port()) + " -- " +
                           kProbe + " " + dir.string() + " hang:1",
                       dir);
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_LT(r.seconds, 20.0) << "no silent hang";
  EXPECT_THAT(r.output, HasSubstr("exited with status 3; stopping the other ranks"));
  // Every rank that found it names rank 1: rank 0 by its silence, rank 2 from rank 0's word.
  EXPECT_THAT(read(dir / "rank0.lost"), HasSubstr("lost 1: stopped answering"));
  if (fs::exists(dir / "rank2.lost")) {
    EXPECT_THAT(read(dir / "rank2.lost"), HasSubstr("lost 1"));
  }
  fs::remove_all(dir);
}

TEST(Launch, SigtermReachesEveryRank) {
  const fs::path dir = fresh_dir("signal");
  const pid_t launcher = ::fork();
  if (launcher == 0) {
    const std::string d = dir.string();
    ::execl(kTandem.c_str(), kTandem.c_str(), "launch", "--nproc-per-node", "2", "--", kProbe.c_str(), d.c_str(),
            "signal", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 200 && !(fs::exists(dir / "rank0.ready") && fs::exists(dir / "rank1.ready")); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(dir / "rank0.ready") && fs::exists(dir / "rank1.ready")) << "the ranks did not start";
  ::kill(launcher, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(launcher, &status, 0), launcher);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << "the ranks' own status";
  for (int rank = 0; rank < 2; ++rank)
    EXPECT_EQ(read(dir / ("rank" + std::to_string(rank) + ".signal")), std::to_string(SIGTERM) + "\n");
  fs::remove_all(dir);
}

TEST(Launch, BadOptionsAreRefused) {
  const fs::path dir = fresh_dir("bad");
  EXPECT_THAT(run("--nproc-per-node 0 -- true", dir).output, HasSubstr("--nproc-per-node 0: expected a count from 1 to 1024"));
  EXPECT_THAT(run("--nnodes 2 -- true", dir).output, HasSubstr("--master-addr is needed with 2 nodes"));
  EXPECT_THAT(run("--nnodes 2 --node-rank 2 --master-addr h -- true", dir).output,
              HasSubstr("--node-rank 2 is not a node of 2"));
  EXPECT_THAT(run("--master-port 70000 -- true", dir).output, HasSubstr("--master-port 70000"));
  const Result none = run("--nproc-per-node 2", dir);
  EXPECT_EQ(none.code, 2);
  EXPECT_THAT(none.output, HasSubstr("no command to launch"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tandem
