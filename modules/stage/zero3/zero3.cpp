// ZeRO stage 3: the parameters are partitioned too (DeepSpeed's stage 3). Each rank holds its shard
// of the parameters, which is also its fp32 master, the persistent small parameters whole, the
// accumulated gradients of its shard and the optimizer state for it. A layer's other parameters
// are gathered when the model acquires it and freed when it releases it, with prefetch
// (partitioned_params.hpp).
//
// Backward as in ZeRO-2: a zeroed layer-sized gradient buffer per layer from acquire_grads to
// grads_done, then bucketed reduction into the owners' gradient shards (common/). The step updates
// the shard in place; the persistent copies are then gathered anew.
//
// Without an optimizer (a stage-3 config with no "optimizer"), the stage is forward-only, as
// DeepSpeed's DeepSpeedZeRoOffload: sharded parameters, gathered per layer, no gradients.
//
// Memory per rank (S = the shard, about 1/W of the padded model; see README.md):
//   param_bytes  = S + persistent parameters     grad_bytes = S + the bucket (0 forward-only)
//   master_bytes = 0 (the shard is the master)   optimizer  = the optimizer's state for S
//   peak_gathered_bytes = most gathered (non-persistent) parameter bytes at once so far
#include <algorithm>
#include <memory>

#include "../common/gradient_buckets.hpp"
#include "../common/layer_gradients.hpp"
#include "../common/layer_index.hpp"
#include "../common/sharded_stage.hpp"
#include "../common/shard_step.hpp"
#include "partitioned_params.hpp"

namespace {

using tandem::stage::GradientBuckets;
using tandem::stage::LayerGradients;
using tandem::stage::PartitionedParams;

const tandem_param_spec kParams[] = {tandem::stage::kReductionParam};

// The shared layout, layer index, gradient shard and pass-through calls: common/sharded_stage.hpp.
class Zero3 final : public tandem::stage::ShardedStage<PartitionedParams> {
 public:
  explicit Zero3(const tandem::sdk::Params& p) : ShardedStage(p) {}

  void setup(const tandem::sdk::StageSetup& s) override {
    // ZeRO-3's shard is its parameters' master: offloading it means gathering from host memory,
    // which this stage does not do on a GPU (ZeRO-2 offloads).
    if (s.optimizer && s.memory.on_device() && s.options.offload_optimizer != 0)
      throw tandem::sdk::Unsupported(
          "ZeRO stage 3 with offload_optimizer on a GPU is not supported: its parameter shard is the master it "
          "would move to the host; use stage 2 with offload_optimizer, or stage 3 without it");
    begin_setup(s, 3);
    params_ = std::make_unique<PartitionedParams>(*layout_, *layers_, setup_.comm, s.options, s.memory);
    if (!s.optimizer) return;  // forward-only: no gradients to keep
    allocate_grad_shard();
    layer_grads_ = std::make_unique<LayerGradients>(*layers_, tandem::sdk::working_dtype(s.options), s.memory);
    // overlap_comm on a device: reductions on its side queue (on the CPU nothing would overlap).
    buckets_ = std::make_unique<GradientBuckets>(*layout_, setup_.comm, s.options.reduce_bucket_size, how_, s.memory,
                                                 grads_.data(), s.options.overlap_comm != 0 && s.memory.on_device());
    init_optimizer_state();
  }

  void acquire(int32_t layer, tandem_tensor_view* views) override { params_->acquire(layer, views); }
  void release(int32_t layer) override { params_->release(layer); }
  void acquire_grads(int32_t layer, tandem_tensor_view* views) override {
    require_training("acquire_grads");
    layer_grads_->open(layer, views);
  }
  void grads_done(int32_t layer) override {
    require_training("grads_done");
    layer_grads_->close(layer, [&](uint32_t param, const float* grad) { buckets_->add(param, grad); });
  }

  void end_backward() override {
    require_training("end_backward");
    layer_grads_->close_all([&](uint32_t param, const float* grad) { buckets_->add(param, grad); });
    buckets_->finish();
  }

  double grad_norm() override {
    require_training("grad_norm");
    return ShardedStage::grad_norm();
  }

  void step(const tandem_stage_step_args& args) override {
    require_training("step");
    tandem::stage::step_shard(setup_.optimizer, *layout_, params_->shard(), grads_.data(), args);
    zero_grads();
    params_->refresh();
  }

  tandem_stage_memory memory() const override {
    tandem_stage_memory m = memory_report();
    m.param_bytes = params_->resident_bytes();
    m.grad_bytes = buckets_ ? (grads_.size() + buckets_->footprint()) * sizeof(float) : 0;
    m.master_bytes = 0;
    m.peak_gathered_bytes = params_->peak_gathered_bytes();
    return m;
  }

 private:
  void require_training(const char* call) const {
    if (!setup_.optimizer)
      throw std::invalid_argument(std::string(call) +
                                  ": this ZeRO-3 stage was set up without an optimizer (forward only, no gradients)");
  }

  std::unique_ptr<LayerGradients> layer_grads_;
  std::unique_ptr<GradientBuckets> buckets_;
};

}  // namespace

TANDEM_STAGE_MODULE(zero3, Zero3, "1.0.0",
                    "ZeRO stage 3: parameters, gradients and optimizer state partitioned; layers gathered just "
                    "in time with bounded prefetch; forward-only without an optimizer",
                    kParams)
