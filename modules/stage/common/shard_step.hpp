// What the partitioned stages do the same way at the optimizer step: the checks on the optimizer
// they are given and where it runs, the global gradient norm from the gradient shards, and the
// optimizer's update of this rank's shard.
#pragma once

#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "shard_layout.hpp"
#include "tandem/grad_norm.hpp"
#include "tandem/memory.hpp"
#include "tandem/stage.hpp"

namespace tandem::stage {

// DeepSpeed's engine asserts "zero stage {s} requires an optimizer" for stages 1 and 2: they exist
// to partition the optimizer's state, and there is none to partition.
inline void require_optimizer(const sdk::StageSetup& s, int stage) {
  if (!s.optimizer)
    throw std::invalid_argument("ZeRO stage " + std::to_string(stage) +
                                " requires an optimizer (it partitions the optimizer state, as in DeepSpeed); "
                                "give the config an \"optimizer\" block, or use stage 3 for a forward-only engine");
}

// Where a stage keeps the fp32 master shard and the optimizer state: in the stage's memory, except
// under ZeRO-Offload (offload_optimizer.device set) on a GPU, where they stay in host memory and the
// optimizer steps there (DeepSpeed's ZeRO-Offload). On the CPU both are host memory.
inline bool shard_on_host(const sdk::StageSetup& s) {
  return !s.memory.on_device() || s.options.offload_optimizer != 0;
}

// The placement the optimizer gets: the stage's device, or the host for a host-side shard.
inline tandem_placement shard_placement(const sdk::StageSetup& s) {
  if (shard_on_host(s)) return sdk::host_memory_ops()->where;
  return s.memory.where();
}

// The shard is fp32 memory cut at arbitrary element boundaries, across matrices, on the host or the
// stage's device (shard_on_host); the optimizer must run there. Places the optimizer.
inline void check_optimizer_takes_shards(const sdk::StageSetup& s, int stage) {
  if (!s.optimizer) return;
  const uint32_t caps = s.optimizer.capabilities();
  if (shard_on_host(s) && (caps & TANDEM_OPTIMIZER_RUNS_ON_HOST) == 0)
    throw std::invalid_argument("ZeRO stage " + std::to_string(stage) +
                                ": the optimizer does not run on host memory, where this stage keeps its shard");
  if (!shard_on_host(s) && (caps & TANDEM_OPTIMIZER_RUNS_ON_DEVICE) == 0)
    throw std::invalid_argument("ZeRO stage " + std::to_string(stage) +
                                ": the optimizer does not run on the GPU, where this stage keeps its shard (it "
                                "does not declare TANDEM_OPTIMIZER_RUNS_ON_DEVICE); offload it to the host with "
                                "zero_optimization.offload_optimizer.device = \"cpu\", or use one that does");
  if ((caps & TANDEM_OPTIMIZER_NEEDS_WHOLE_MATRICES) != 0 && s.world_size > 1)
    throw std::invalid_argument("ZeRO stage " + std::to_string(stage) + ": the optimizer needs whole matrices, and with " +
                                std::to_string(s.world_size) +
                                " ranks each rank's shard is a flat slice that cuts across them");
  s.optimizer.place(shard_placement(s));
}

// The L2 norm of the gradients of the whole model, from each rank's gradient shard. Each rank's
// exact square sum (tandem/grad_norm.hpp) goes to every rank as 64-bit words, and the merged sum
// is the same integer sum ZeRO-0 computes over the whole buffer: the same norm, bit for bit, on
// every rank. Padding elements are 0 and add nothing. Collective; `shard` is in `memory`, and the
// words travel through it too (a device communicator takes device buffers).
inline double global_grad_norm(sdk::CommClient& comm, int32_t world, const sdk::Memory& memory, const float* shard,
                               size_t n) {
  sdk::ExactSquareSum mine;
  memory.square_sum(shard, n, mine);
  if (world == 1) return mine.norm();
  using Sum = sdk::ExactSquareSum;
  const Sum::Words words = mine.to_words();
  std::vector<uint64_t> all(static_cast<size_t>(world) * Sum::kWords);
  sdk::Buffer<uint64_t> send(memory, Sum::kWords), received(memory, all.size());
  memory.copy(send.data(), words.data(), sizeof words);
  comm.all_gather(send.data(), received.data(), Sum::kWords, TANDEM_DTYPE_I64);
  memory.copy(all.data(), received.data(), all.size() * sizeof(uint64_t));
  memory.synchronize();
  Sum total;
  for (int32_t q = 0; q < world; ++q)
    total.merge(Sum::from_words(std::span<const uint64_t, Sum::kWords>(all.data() + static_cast<size_t>(q) * Sum::kWords,
                                                                       Sum::kWords)));
  return total.norm();
}

// The optimizer's arguments for this rank's shard: `params` (the fp32 master shard, updated in place)
// and `grads` (the accumulated gradient shard), both shard_numel() elements, groups as ShardLayout
// gives them (padding left out, so it stays 0), kept in `groups` (which the arguments point to).
inline tandem_optimizer_step_args shard_step_args(const ShardLayout& layout, float* params, const float* grads,
                                                  const tandem_stage_step_args& args,
                                                  std::vector<tandem_optimizer_group>& groups) {
  groups = layout.optimizer_groups(args);
  tandem_optimizer_step_args opt{};
  opt.struct_size = sizeof opt;
  opt.step = args.step;
  opt.params = params;
  opt.grads = grads;
  opt.grad_dtype = TANDEM_DTYPE_F32;
  opt.grad_scale = args.grad_scale;
  opt.numel = layout.shard_numel();
  opt.groups = groups.data();
  opt.group_count = static_cast<uint32_t>(groups.size());
  opt.pieces = layout.pieces().data();
  opt.piece_count = static_cast<uint32_t>(layout.pieces().size());
  return opt;
}

// Runs the optimizer on this rank's shard (shard_step_args).
inline void step_shard(sdk::OptimizerClient& optimizer, const ShardLayout& layout, float* params, const float* grads,
                       const tandem_stage_step_args& args) {
  std::vector<tandem_optimizer_group> groups;
  optimizer.step(shard_step_args(layout, params, grads, args, groups));
}

// Bytes of the optimizer's state (0 without an optimizer).
inline uint64_t optimizer_state_bytes(const sdk::StageSetup& s) {
  return s.optimizer ? s.optimizer.state_bytes() : 0;
}

}  // namespace tandem::stage
