// What `tandem launch` starts in its tests: a process that records what it was told and does one
// thing. launch_probe DIR ACTION:
//   env          write DIR/rank<RANK>.env with the launcher's variables, exit 0
//   fail:R:CODE  rank R exits with CODE at once; the others wait to be stopped (and say so)
//   rendezvous   meet the other ranks through the TCP rendezvous at MASTER_ADDR:MASTER_PORT (rank 0
//                serves a blob, the others receive it) and write it to DIR/rank<RANK>.blob
//   signal       write DIR/rank<RANK>.ready, wait for SIGTERM/SIGINT, write which, exit 128 + it
//   hang:R       meet through the rendezvous keeping the links, watch them (heartbeats every 50 ms, 1 s
//                timeout); rank R then stops itself (SIGSTOP: it stops answering); a rank whose watch
//                finds a rank lost writes DIR/rank<RANK>.lost ("lost R: why") and exits 3
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "runtime/launch_env.hpp"
#include "tcp_rendezvous.hpp"

namespace {

std::string var(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "(unset)";
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp") << text;
  std::rename((path + ".tmp").c_str(), path.c_str());
}

int wait_for_a_signal(const std::string& dir, const std::string& rank) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  write(dir + "/rank" + rank + ".ready", "ready\n");
  int got = 0;
  sigwait(&set, &got);
  write(dir + "/rank" + rank + ".signal", std::to_string(got) + "\n");
  return 128 + got;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: launch_probe DIR ACTION\n";
    return 2;
  }
  const std::string dir = argv[1], action = argv[2], rank = var("RANK");
  if (action == "env") {
    std::string text;
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR",
                             "MASTER_PORT", "NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST", "NVSHMEM_DISABLE_NVLS"})
      text += std::string(name) + "=" + var(name) + "\n";
    write(dir + "/rank" + rank + ".env", text);
    return 0;
  }
  if (action.rfind("fail:", 0) == 0) {
    const std::string spec = action.substr(5);
    const std::string failing = spec.substr(0, spec.find(':'));
    if (rank == failing) return std::stoi(spec.substr(spec.find(':') + 1));
    return wait_for_a_signal(dir, rank);
  }
  if (action == "rendezvous") {
    const tandem::LaunchEnv env = tandem::read_launch_env();
    const tandem::rendezvous::Endpoint at{env.master_addr, static_cast<uint16_t>(env.master_port)};
    std::vector<uint8_t> blob = {'m', 'e', 't'};
    if (env.rank == 0)
      tandem::rendezvous::serve(at, env.world_size, blob, std::chrono::seconds(20));
    else
      blob = tandem::rendezvous::join(at, env.rank, env.world_size, blob.size(), std::chrono::seconds(20));
    write(dir + "/rank" + rank + ".blob", std::string(blob.begin(), blob.end()));
    return 0;
  }
  if (action == "signal") return wait_for_a_signal(dir, rank);
  if (action.rfind("hang:", 0) == 0) {
    const tandem::LaunchEnv env = tandem::read_launch_env();
    const tandem::rendezvous::Endpoint at{env.master_addr, static_cast<uint16_t>(env.master_port)};
    tandem::rendezvous::Links links;
    const std::vector<uint8_t> blob = {'i', 'd'};
    if (env.rank == 0)
      tandem::rendezvous::serve(at, env.world_size, blob, std::chrono::seconds(20), &links);
    else
      tandem::rendezvous::join(at, env.rank, env.world_size, blob.size(), std::chrono::seconds(20), &links);
    tandem::rendezvous::Watch watch(std::move(links), env.rank, std::chrono::milliseconds(50), std::chrono::seconds(1),
                                    [&](int32_t lost, const std::string& why) {
                                      write(dir + "/rank" + rank + ".lost", "lost " + std::to_string(lost) + ": " + why + "\n");
                                      std::_Exit(3);
                                    });
    if (rank == action.substr(5)) ::raise(SIGSTOP);
    std::this_thread::sleep_for(std::chrono::seconds(30));
    return 0;
  }
  std::cerr << "launch_probe: unknown action " << action << "\n";
  return 2;
}
