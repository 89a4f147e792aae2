// What the monitor tests share: `tandem` run as a child process with both its outputs, and run files
// of the fault tests' tiny model whose DeepSpeed config is given (to add monitor blocks).
#pragma once

#include <string>
#include <vector>

#include "fault_support.hpp"

namespace tandem::test {

struct CliResult {
  int rc = 0;
  std::string out, err;
};

inline CliResult tandem_run(const std::vector<std::string>& args, const std::filesystem::path& log_stem) {
  Child c(args, log_stem);
  const int status = c.wait();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status), c.out(), c.err()};
}

// kTrainedConfig with `blocks` (", \"tensorboard\": {...}") spliced in before its closing brace.
inline std::string config_with(const std::string& blocks) {
  std::string c = kTrainedConfig;
  return c.insert(c.rfind('}'), blocks);
}

// A `tandem train` run file of the tiny model under `config`: metrics in <ckpt>-metrics.jsonl.
inline std::string train_run_with(const std::string& config, int steps, const std::string& ckpt) {
  return std::string(R"({"model": )") + kTinyModel + R"(, "deepspeed": )" + config + ", " + kLoopKeys +
         R"(, "steps": )" + std::to_string(steps) + R"(, "checkpoint_dir": ")" + ckpt +
         R"(", "checkpoint_interval": 1, "metrics": ")" + ckpt + R"(-metrics.jsonl"})";
}

// A multi-model run file: models "a" and "b", each the tiny model under its config.
inline std::string two_model_run(const std::string& config_a, const std::string& config_b, int steps,
                                 const std::string& ckpt) {
  return std::string(R"({"models": {"a": {"model": )") + kTinyModel + R"(, "deepspeed": )" + config_a +
         R"(}, "b": {"model": )" + kTinyModel + R"(, "deepspeed": )" + config_b + R"(, "seed": 9}}, )" + kLoopKeys +
         R"(, "steps": )" + std::to_string(steps) + R"(, "checkpoint_dir": ")" + ckpt + R"(", "metrics": ")" + ckpt +
         R"(-metrics.jsonl"})";
}

inline std::vector<std::string> text_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace tandem::test
