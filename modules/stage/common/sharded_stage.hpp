// What zero1, zero2 and zero3 set up and do the same way, as one base: the rank's shard layout, the
// parameters by layer, the accumulated gradients of this rank's shard, the `reduction` parameter,
// and the calls that only pass through to them (set_param / get_param checked against the layer
// index, the global gradient norm of the shard, zeroing it, the master shard). A stage derives from
// it with its parameter store - WholeParams (whole_params.hpp) for stages 1 and 2, PartitionedParams
// (zero3/partitioned_params.hpp) for 3 - and writes only what makes it that stage: where gradients go
// during backward and how they are reduced, the step, and the memory it reports.
//
// Params must have set(index, const float*), get(index, float*) and master_shard(group, view,
// offset, padded), as both stores do.
#pragma once

#include <cstdint>
#include <memory>

#include "gradient_buckets.hpp"
#include "layer_index.hpp"
#include "shard_layout.hpp"
#include "shard_step.hpp"
#include "tandem/memory.hpp"
#include "tandem/stage.hpp"

namespace tandem::stage {

template <class Params>
class ShardedStage : public sdk::Stage {
 public:
  explicit ShardedStage(const sdk::Params& p) : how_(parse_reduction(p.string("reduction"))) {}

  void set_param(uint32_t index, const tandem_tensor_view& full) override {
    layers_->check_full(index, full);
    params_->set(index, static_cast<const float*>(full.data));
  }
  void get_param(uint32_t index, tandem_tensor_view& out) override {
    layers_->check_full(index, out);
    params_->get(index, static_cast<float*>(out.data));
  }

  // The exact L2 norm of the whole model's gradients, from every rank's shard (shard_step.hpp).
  double grad_norm() override {
    return global_grad_norm(setup_.comm, layout_->world(), setup_.memory, grads_.data(), grads_.size());
  }
  void zero_grads() override { setup_.memory.fill_zero(grads_.data(), grads_.bytes()); }

  void master_shard(uint32_t group, tandem_tensor_view& shard, uint64_t& offset, uint64_t& padded) override {
    params_->master_shard(group, shard, offset, padded);
  }

 protected:
  // The start of every partitioned stage's setup(), in this order: the optimizer checked against the
  // shard and placed (shard_step.hpp), the setup kept, the layout and the layer index cut. The stage
  // then builds params_ and, when it trains, calls allocate_grad_shard() and, last,
  // init_optimizer_state().
  void begin_setup(const sdk::StageSetup& s, int stage) {
    check_optimizer_takes_shards(s, stage);
    setup_ = s;
    layout_ = std::make_unique<ShardLayout>(s);
    layers_ = std::make_unique<LayerIndex>(s);
  }
  void allocate_grad_shard() { grads_ = sdk::Buffer<float>(setup_.memory, layout_->shard_numel()); }
  void init_optimizer_state() { setup_.optimizer.init_state(layout_->shard_numel()); }

  // The part of memory() every stage reports the same way; the stage fills the byte counts.
  tandem_stage_memory memory_report() const {
    tandem_stage_memory m{};
    m.struct_size = sizeof m;
    m.optimizer_state_bytes = optimizer_state_bytes(setup_);
    return m;
  }

  Reduction how_;
  sdk::StageSetup setup_;
  std::unique_ptr<ShardLayout> layout_;
  std::unique_ptr<LayerIndex> layers_;
  std::unique_ptr<Params> params_;
  sdk::Buffer<float> grads_;  // the accumulated gradients of this rank's shard
};

}  // namespace tandem::stage
