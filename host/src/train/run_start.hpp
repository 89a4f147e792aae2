// The start-up summary of `tandem train` and `tandem distill`, printed by the process of global rank
// 0 before the first step, so that what a run will do is read before it spends hours on it: per model
// its parameters, the tokens of one optimizer step (micro-batch x seq x gradient accumulation x
// data-parallel ranks), the precision and ZeRO stage as the config resolved them, where the optimizer
// state and the parameters are offloaded, and where checkpoints, metrics and monitors go.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "monitor/monitors.hpp"
#include "tandem/engine.hpp"

namespace tandem {

struct RunStartModel {
  std::string name;             // "model" for a run of one
  const Engine* engine = nullptr;
  int64_t seq = 0;              // tokens a row
  std::filesystem::path checkpoint_dir;  // empty: none
  bool frozen = false;          // a teacher: forward only, no checkpoints
  int64_t grad_accum = 0;       // micro-steps per optimizer step; 0: the config's (a teacher follows its student)
  const monitor::Monitors* monitors = nullptr;  // null: none
};

// "fp32", "bf16" or "fp16": what the config's fp16 / bf16 blocks resolved to.
const char* precision_name(const ResolvedConfig& config);

// Lines such as
//   tandem train: runs/a.json, 8 steps on cpu
//     model "model": 2.66K parameters (2656); ZeRO-2; bf16; offload_optimizer cpu, offload_param none
//       tokens per step: 128 = micro-batch 2 x seq 16 x grad accum 2 x 2 data-parallel ranks
//       checkpoint_dir: runs/ckpt
//     metrics: runs/metrics.jsonl
void print_run_start(std::ostream& out, const std::string& command, const std::string& source, int64_t steps,
                     const std::string& device, const std::vector<RunStartModel>& models,
                     const std::filesystem::path& metrics);

}  // namespace tandem
