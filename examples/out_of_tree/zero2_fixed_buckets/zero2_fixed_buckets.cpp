// ZeRO stage 2 with another bucketing policy: gradients are reduced once every `layers_per_bucket`
// layers have finished their backward, whatever reduce_bucket_size says (zero2 reduces whenever its
// reduce_bucket_size-element bucket would overflow). Everything else is zero2's, built from the
// shipped stages' helpers that tandem installs (include/tandem/stage/): parameters whole on every
// rank, this rank's shard of the accumulated gradients, the fp32 master shard and the optimizer
// state for it.
//
// Numerics: each gradient element is still reduced over ranks exactly once per micro-step and then
// added to its owner's shard (the contract in tandem/stage.h), so where the buckets are cut changes
// the traffic pattern and the memory, never a bit of the result: this module trains as zero0 and
// zero2 do, which the stage conformance suite checks.
//
// Selected by a config's tandem block: "tandem": {"stage_module": {"type": "zero2_fixed_buckets",
// "params": {"layers_per_bucket": 2}}} (with "zero_optimization": {"stage": 2}, whose rules apply).
#include <algorithm>
#include <functional>
#include <memory>
#include <vector>

#include "tandem/stage/gradient_buckets.hpp"
#include "tandem/stage/layer_gradients.hpp"
#include "tandem/stage/layer_index.hpp"
#include "tandem/stage/shard_step.hpp"
#include "tandem/stage/whole_params.hpp"

namespace {

using tandem::stage::GradientBuckets;
using tandem::stage::LayerGradients;
using tandem::stage::LayerIndex;
using tandem::stage::ShardLayout;
using tandem::stage::WholeParams;

const tandem_param_spec kParams[] = {
    tandem::sdk::optional_param("layers_per_bucket", TANDEM_PARAM_INT, "1",
                                "layers whose gradients are reduced together (reduce_bucket_size is ignored)", 1.0),
    tandem::stage::kReductionParam,
};

class Zero2FixedBuckets final : public tandem::sdk::Stage {
 public:
  explicit Zero2FixedBuckets(const tandem::sdk::Params& p)
      : layers_per_bucket_(static_cast<size_t>(p.integer("layers_per_bucket"))),
        how_(tandem::stage::parse_reduction(p.string("reduction"))) {}

  void setup(const tandem::sdk::StageSetup& s) override {
    tandem::stage::require_optimizer(s, 2);
    tandem::stage::check_optimizer_takes_shards(s, 2);
    setup_ = s;
    layout_ = std::make_unique<ShardLayout>(s);
    layers_ = std::make_unique<LayerIndex>(s);
    const tandem_dtype dtype = tandem::sdk::working_dtype(s.options);
    params_ = std::make_unique<WholeParams>(*layout_, *layers_, dtype, s.memory, tandem::stage::shard_on_host(s));
    grads_ = tandem::sdk::Buffer<float>(s.memory, layout_->shard_numel());
    layer_grads_ = std::make_unique<LayerGradients>(*layers_, dtype, s.memory);
    buckets_ = std::make_unique<GradientBuckets>(*layout_, setup_.comm, static_cast<int64_t>(bucket_elements()), how_,
                                                 s.memory, grads_.data());
    setup_.optimizer.init_state(layout_->shard_numel());
  }

  void set_param(uint32_t index, const tandem_tensor_view& full) override {
    layers_->check_full(index, full);
    params_->set(index, static_cast<const float*>(full.data));
  }
  void get_param(uint32_t index, tandem_tensor_view& out) override {
    layers_->check_full(index, out);
    params_->get(index, static_cast<float*>(out.data));
  }

  void acquire(int32_t layer, tandem_tensor_view* views) override { params_->views(layer, views); }
  void release(int32_t layer) override { layers_->check_layer(layer); }
  void acquire_grads(int32_t layer, tandem_tensor_view* views) override { layer_grads_->open(layer, views); }
  void grads_done(int32_t layer) override {
    layer_grads_->close(layer, [&](uint32_t param, const float* grad) { buckets_->add(param, grad); });
    // Every rank finishes the same layers in the same order, so all reduce at the same points.
    if (++layers_in_bucket_ == layers_per_bucket_) flush();
  }

  void end_backward() override {
    layer_grads_->close_all([&](uint32_t param, const float* grad) { buckets_->add(param, grad); });
    flush();
  }

  double grad_norm() override {
    return tandem::stage::global_grad_norm(setup_.comm, layout_->world(), setup_.memory, grads_.data(), grads_.size());
  }

  void step(const tandem_stage_step_args& args) override {
    params_->step(setup_.optimizer, grads_.data(), args, setup_.comm);
    zero_grads();
  }

  void zero_grads() override { setup_.memory.fill_zero(grads_.data(), grads_.bytes()); }

  tandem_stage_memory memory() const override {
    tandem_stage_memory m{};
    m.struct_size = sizeof m;
    m.param_bytes = params_->param_bytes();
    m.grad_bytes = (grads_.size() + buckets_->capacity()) * sizeof(float);
    m.master_bytes = params_->master_bytes();
    m.optimizer_state_bytes = tandem::stage::optimizer_state_bytes(setup_);
    return m;
  }

  void master_shard(uint32_t group, tandem_tensor_view& shard, uint64_t& offset, uint64_t& padded) override {
    params_->master_shard(group, shard, offset, padded);
  }

 private:
  // The bucket holds any layers_per_bucket layers: the sum of that many of the largest, so that the
  // bucket never reduces on its own before flush() (it does when exactly full, which is harmless).
  size_t bucket_elements() const {
    std::vector<size_t> sizes;
    for (int32_t l = 0; l < layers_->layer_count(); ++l) {
      size_t n = 0;
      for (uint32_t p : layers_->params_of(l)) n += layers_->numel(p);
      sizes.push_back(n);
    }
    std::sort(sizes.begin(), sizes.end(), std::greater<>());
    size_t total = 0;
    for (size_t i = 0; i < std::min(layers_per_bucket_, sizes.size()); ++i) total += sizes[i];
    return std::max<size_t>(total, 1);
  }

  void flush() {
    buckets_->flush();
    layers_in_bucket_ = 0;
  }

  size_t layers_per_bucket_;
  tandem::stage::Reduction how_;
  size_t layers_in_bucket_ = 0;
  tandem::sdk::StageSetup setup_;
  std::unique_ptr<ShardLayout> layout_;
  std::unique_ptr<LayerIndex> layers_;
  std::unique_ptr<WholeParams> params_;
  tandem::sdk::Buffer<float> grads_;  // the accumulated gradients of this rank's shard
  std::unique_ptr<LayerGradients> layer_grads_;
  std::unique_ptr<GradientBuckets> buckets_;
};

}  // namespace

TANDEM_STAGE_MODULE(zero2_fixed_buckets, Zero2FixedBuckets, "1.0.0",
                    "ZeRO stage 2 whose gradients are reduced every layers_per_bucket layers (an out-of-tree example)",
                    kParams)
