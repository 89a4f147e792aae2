// `tandem estimate`: the memory that model states (parameters, gradients, optimizer state) take per
// rank under each ZeRO stage, for a parameter count, a world size and offload settings, with
// DeepSpeed's estimators:
//   - ZeRO-2: estimate_zero2_model_states_mem_needs (deepspeed/runtime/zero/stage_1_and_2.py);
//   - ZeRO-3: estimate_zero3_model_states_mem_needs (deepspeed/runtime/zero/stage3.py).
// DeepSpeed has no estimator for stages 0 and 1; their rows use the ZeRO-2 estimator's own
// accounting per parameter (2 bytes of 16-bit params, then 2 of 16-bit grads, 4 of fp32 grads,
// 4 of fp32 master weights and 8 of Adam moments), partitioning what each stage partitions:
//   stage 0: nothing; stage 1: the fp32 grads, master weights and moments (16 bytes); stage 2: also
//   the 16-bit grads (18 bytes, DeepSpeed's figure); stage 3: also the 16-bit params.
// Every figure in bytes: "device" is one rank's accelerator (the host itself for tandem's CPU
// ranks), "host" is one node's CPU memory, as DeepSpeed prints them, both with DeepSpeed's
// additional_buffer_factor on the host side only.
//
// Dtype::Fp32 is tandem's CPU training without mixed precision: the working params and grads are
// fp32 and are themselves the master copies, so a parameter costs 4 (params) + 4 (grads) + 8 (Adam
// moments) bytes, with no fp32 copies; the host side under offload holds the same 16 bytes (plus 4
// of params when they are offloaded too), as DeepSpeed's figures count them for 16-bit training.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem {

struct EstimateInputs {
  int64_t params = 0;                // total parameters
  int64_t largest_layer_params = 0;  // ZeRO-3's gathered working set (DeepSpeed: the largest module)
  int64_t world_size = 1;            // ranks over all nodes
  int64_t nodes = 1;                 // world_size must be a multiple
  bool offload_optimizer = false;    // offload_optimizer.device = cpu
  bool offload_param = false;        // offload_param.device = cpu (ZeRO-3 only)
  bool zero_init = true;             // ZeRO-3: parameters partitioned as they are created
  enum class Dtype { Bf16, Fp32 } dtype = Dtype::Bf16;
  double buffer_factor = 1.5;        // DeepSpeed's additional_buffer_factor (host side)
};

struct StageEstimate {
  int stage = 0;
  bool applicable = true;  // false: the settings do not apply to this stage (see note)
  uint64_t device_bytes = 0;  // per rank
  uint64_t host_bytes = 0;    // per node
  std::string note;           // why not applicable, or what the figure leaves out
};

// One row per stage, 0 to 3. std::invalid_argument for params < 1, world_size < 1, nodes < 1,
// world_size not a multiple of nodes, largest_layer_params < 0 or > params, buffer_factor < 1.
std::vector<StageEstimate> estimate_model_states(const EstimateInputs& in);

// The rows as a table (GiB with two decimals, or exact bytes), with a header naming the inputs.
std::string format_estimate(const EstimateInputs& in, const std::vector<StageEstimate>& rows, bool bytes = false);

}  // namespace tandem
