// Host start benchmark: how long a whole tandem process takes to scan and load every module, then
// parse and resolve both seed configs (student and teacher, as the main job does) and create what
// they select. Measured as whole-process runs (fork + exec of this binary with --child), because
// that is what a user waits for: dynamic loading, static initialisers, module scanning and all.
// Reports the median of the runs beside a bare process start (/bin/true) as the floor.
//
//   build/bin/bench_host_start [--runs N] [--configs DIR]
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "tandem/accelerator.hpp"

extern char** environ;

namespace {

// The measured work.
int child(const std::string& configs) {
  tandem::PluginSet plugins{{"student", tandem::DeepSpeedPlugin::from(configs + "/zero2_config.json")},
                            {"teacher", tandem::DeepSpeedPlugin::from(configs + "/zero3_config.json")}};
  tandem::Accelerator accelerator(std::move(plugins), {.world_size = 2});
  if (accelerator.state().registry().modules().empty()) {
    std::cerr << "no modules found\n";
    return 1;
  }
  const tandem::Prepared student = accelerator.prepare(
      {.hidden_size = 768, .micro_batch = 8, .lr = 3e-4, .weight_decay = 0.1, .warmup_steps = 100, .total_steps = 1000});
  accelerator.select("teacher");
  const tandem::Prepared teacher = accelerator.prepare({.hidden_size = 1024, .micro_batch = 8});
  return student.scheduler() != nullptr && teacher.config().zero.stage == 3 ? 0 : 1;
}

// Wall time of one run of argv, in milliseconds; throws if it fails.
double time_process(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0)
    throw std::runtime_error("cannot start " + argv[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  const auto end = std::chrono::steady_clock::now();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error(argv[0] + " failed");
  return std::chrono::duration<double, std::milli>(end - start).count();
}

struct Stats {
  double median, min, max;
};

Stats measure(const std::vector<std::string>& argv, int runs) {
  time_process(argv);  // warm the page cache
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) t.push_back(time_process(argv));
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front(), t.back()};
}

}  // namespace

int main(int argc, char** argv) {
  std::string configs = std::string(TANDEM_SOURCE_DIR) + "/configs";
  int runs = 30;
  bool is_child = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--child") is_child = true;
    else if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--configs" && i + 1 < argc) configs = argv[++i];
    else {
      std::cerr << "usage: bench_host_start [--runs N] [--configs DIR]\n";
      return 2;
    }
  }
  try {
    if (is_child) return child(configs);
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) throw std::runtime_error("cannot find this executable");
    self[n] = '\0';
    const Stats floor = measure({"/bin/true"}, runs);
    const Stats start = measure({self, "--child", "--configs", configs}, runs);
    std::printf("host start (scan+load all modules, parse+resolve both seed configs, create their modules)\n");
    std::printf("  tandem process : median %.2f ms  (min %.2f, max %.2f) over %d runs\n", start.median, start.min,
                start.max, runs);
    std::printf("  /bin/true      : median %.2f ms  (process start floor)\n", floor.median);
    std::printf("  ratio to floor : %.1fx; target < 50 ms: %s\n", start.median / floor.median,
                start.median < 50.0 ? "met" : "NOT met");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_host_start: " << e.what() << "\n";
    return 1;
  }
}
