// ZeRO stage 2: the gradients are partitioned too (DeepSpeed's stage 2). Parameters stay whole on
// every rank; each rank keeps the accumulated gradients of its shard only, the fp32 master shard
// and the optimizer state for it.
//
// Backward: acquire_grads(layer) hands the model a zeroed, layer-sized gradient buffer
// (common/layer_gradients.hpp); at grads_done(layer) its parameters' gradients go into the bucket
// (common/gradient_buckets.hpp), which is reduced over ranks into the owners' gradient shards as
// soon as the next parameter would not fit in reduce_bucket_size elements, and the layer's buffer
// is freed. end_backward reduces what is left. Each element is reduced once per micro-step and
// added to the shard: the numerics of ZeRO-0, so the result is the same bit for bit.
//
// overlap_comm: the bucket is issued the moment it is full, while backward still has layers to go.
// On a device, two buckets, and each reduction is queued on the memory's side queue (a second
// stream, which the rank's collectives follow), so it runs while the backward fills the other
// bucket (common/gradient_buckets.hpp); on the CPU the local communicator is synchronous and nothing
// would overlap, so there is one bucket and no side queue.
//
// ZeRO-Offload (offload_optimizer.device "cpu" on a GPU): the master shard and the optimizer state
// live in host memory and the step streams through them tile by tile (common/whole_params.hpp).
//
// Where each part of a training micro-step lives, for this stage (the engine's side is mapped at the
// top of host/src/engine/engine.cpp):
//   forward   Zero2::acquire -> WholeParams::views (common/whole_params.hpp): the whole parameters
//   backward  Zero2::acquire_grads / grads_done -> LayerGradients (common/layer_gradients.hpp) ->
//             GradientBuckets::add, and Zero2::end_backward -> GradientBuckets::finish
//             (common/gradient_buckets.hpp): reduce-scatter into the owners' shards in grads_
//   step      the engine's Engine::take_step calls grad_norm (ShardedStage::grad_norm,
//             common/sharded_stage.hpp -> global_grad_norm, common/shard_step.hpp), then Zero2::step
//             -> WholeParams::step (common/whole_params.hpp): the optimizer on the master shard, the
//             shard into the working parameters, the all-gather; then the gradient shard zeroed
//   setup     Zero2::setup on ShardedStage::begin_setup (common/sharded_stage.hpp)
//
// Memory per rank (S = the shard, about 1/W of the padded model; see README.md):
//   param_bytes  = whole working parameters     grad_bytes = S + the bucket
//   master_bytes = S                             optimizer  = the optimizer's state for S
#include <algorithm>
#include <memory>

#include "../common/gradient_buckets.hpp"
#include "../common/layer_gradients.hpp"
#include "../common/layer_index.hpp"
#include "../common/sharded_stage.hpp"
#include "../common/shard_step.hpp"
#include "../common/whole_params.hpp"

namespace {

using tandem::stage::GradientBuckets;
using tandem::stage::LayerGradients;
using tandem::stage::WholeParams;

const tandem_param_spec kParams[] = {tandem::stage::kReductionParam};

// The shared layout, layer index, gradient shard and pass-through calls: common/sharded_stage.hpp.
class Zero2 final : public tandem::stage::ShardedStage<WholeParams> {
 public:
  explicit Zero2(const tandem::sdk::Params& p) : ShardedStage(p) {}

  void setup(const tandem::sdk::StageSetup& s) override {
    tandem::stage::require_optimizer(s, 2);
    begin_setup(s, 2);
    const tandem_dtype dtype = tandem::sdk::working_dtype(s.options);
    params_ = std::make_unique<WholeParams>(*layout_, *layers_, dtype, s.memory, tandem::stage::shard_on_host(s));
    allocate_grad_shard();
    layer_grads_ = std::make_unique<LayerGradients>(*layers_, dtype, s.memory);
    // overlap_comm on a device: reductions on its side queue (on the CPU nothing would overlap).
    buckets_ = std::make_unique<GradientBuckets>(*layout_, setup_.comm, s.options.reduce_bucket_size, how_, s.memory,
                                                 grads_.data(), s.options.overlap_comm != 0 && s.memory.on_device());
    init_optimizer_state();
  }

  void acquire(int32_t layer, tandem_tensor_view* views) override { params_->views(layer, views); }
  void release(int32_t layer) override { layers_->check_layer(layer); }
  void acquire_grads(int32_t layer, tandem_tensor_view* views) override { layer_grads_->open(layer, views); }
  void grads_done(int32_t layer) override {
    layer_grads_->close(layer, [&](uint32_t param, const float* grad) { buckets_->add(param, grad); });
  }

  void end_backward() override {
    // A layer the model left open is reduced now (the same layers on every rank, in layer order).
    layer_grads_->close_all([&](uint32_t param, const float* grad) { buckets_->add(param, grad); });
    buckets_->finish();
  }

  void step(const tandem_stage_step_args& args) override {
    params_->step(setup_.optimizer, grads_.data(), args, setup_.comm);
    zero_grads();
  }

  tandem_stage_memory memory() const override {
    tandem_stage_memory m = memory_report();
    m.param_bytes = params_->param_bytes();
    m.grad_bytes = (grads_.size() + buckets_->footprint()) * sizeof(float);
    m.master_bytes = params_->master_bytes();
    return m;
  }

 private:
  std::unique_ptr<LayerGradients> layer_grads_;
  std::unique_ptr<GradientBuckets> buckets_;
};

}  // namespace

TANDEM_STAGE_MODULE(zero2, Zero2, "1.0.0",
                    "ZeRO stage 2: optimizer state, master weights and gradients partitioned; gradients "
                    "reduced in buckets as layers finish backward",
                    kParams)
