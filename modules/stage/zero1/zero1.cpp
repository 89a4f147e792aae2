// ZeRO stage 1: the optimizer state and the fp32 master weights are partitioned; parameters and the
// model's gradient buffer stay whole on every rank (DeepSpeed's stage 1).
//
// Per micro-step: the model adds its gradients into one whole flat buffer (the layout of every
// stage, tandem/flat_layout.hpp); at end_backward each group's buffer is reduce-scattered with
// AVERAGE (one collective per group: the groups are padded to W, so slice r is exactly rank r's
// part) and the rank's slice is ADDED to its accumulated gradient shard. At the step each rank
// updates its master shard, copies it into its slices of the parameters and all-gathers them
// (common/whole_params.hpp). The norm is the exact square sum merged over ranks.
//
// Memory per rank (S = the shard, about 1/W of the padded model; see README.md):
//   param_bytes  = whole working parameters     grad_bytes = whole micro-step buffer + S
//   master_bytes = S                             optimizer  = the optimizer's state for S
#include <algorithm>
#include <cstring>
#include <memory>

#include "../common/gradient_buckets.hpp"
#include "../common/layer_index.hpp"
#include "../common/sharded_stage.hpp"
#include "../common/shard_step.hpp"
#include "../common/whole_params.hpp"

namespace {

using tandem::stage::Reduction;
using tandem::stage::WholeParams;

const tandem_param_spec kParams[] = {tandem::stage::kReductionParam};

// The shared layout, layer index, gradient shard and pass-through calls: common/sharded_stage.hpp.
class Zero1 final : public tandem::stage::ShardedStage<WholeParams> {
 public:
  explicit Zero1(const tandem::sdk::Params& p) : ShardedStage(p) {}

  void setup(const tandem::sdk::StageSetup& s) override {
    tandem::stage::require_optimizer(s, 1);
    begin_setup(s, 1);
    params_ = std::make_unique<WholeParams>(*layout_, *layers_, tandem::sdk::working_dtype(s.options), s.memory,
                                            tandem::stage::shard_on_host(s));
    micro_grads_ = tandem::sdk::Buffer<float>(s.memory, layout_->flat().total_padded());
    allocate_grad_shard();
    init_optimizer_state();
  }

  void acquire(int32_t layer, tandem_tensor_view* views) override { params_->views(layer, views); }
  void release(int32_t layer) override { layers_->check_layer(layer); }
  void acquire_grads(int32_t layer, tandem_tensor_view* views) override {
    const std::vector<uint32_t>& params = layers_->params_of(layer);
    for (size_t k = 0; k < params.size(); ++k)
      views[k] = layers_->view(params[k], micro_grads_.data() + layout_->flat().global_offset(params[k]),
                               TANDEM_DTYPE_F32, setup_.memory.where());
  }
  void grads_done(int32_t layer) override { layers_->check_layer(layer); }  // reduced at end_backward

  void end_backward() override {
    // As the model's gradients would be in the working precision (tandem/working_precision.hpp).
    const tandem::sdk::Memory& memory = setup_.memory;
    memory.round(micro_grads_.data(), micro_grads_.size(), tandem::sdk::working_dtype(setup_.options));
    const int32_t rank = layout_->rank();
    tandem::sdk::Buffer<float> reduced;  // one group's slice, for this call only
    for (size_t g = 0; g < layout_->group_count(); ++g) {
      const tandem::sdk::FlatGroup& fg = layout_->group(g);
      if (fg.partition == 0) continue;
      float* group = micro_grads_.data() + fg.base;
      const float* mine = group + layout_->slice_begin(g, rank);
      if (layout_->world() > 1) {
        if (how_ == Reduction::AllReduce) {
          setup_.comm.all_reduce(group, fg.padded, TANDEM_REDUCE_AVERAGE);
        } else {
          if (reduced.size() < fg.partition) reduced = tandem::sdk::Buffer<float>(memory, fg.partition);
          setup_.comm.reduce_scatter(group, reduced.data(), fg.partition, TANDEM_REDUCE_AVERAGE);
          mine = reduced.data();
        }
      }
      memory.add(grads_.data() + layout_->shard_offset(g), mine, fg.partition);
    }
    memory.fill_zero(micro_grads_.data(), micro_grads_.bytes());
  }

  void step(const tandem_stage_step_args& args) override {
    params_->step(setup_.optimizer, grads_.data(), args, setup_.comm);
    zero_grads();
  }

  tandem_stage_memory memory() const override {
    tandem_stage_memory m = memory_report();
    m.param_bytes = params_->param_bytes();
    m.grad_bytes = (micro_grads_.size() + grads_.size()) * sizeof(float);
    m.master_bytes = params_->master_bytes();
    return m;
  }

 private:
  tandem::sdk::Buffer<float> micro_grads_;  // the model's gradients of this micro-step, whole
};

}  // namespace

TANDEM_STAGE_MODULE(zero1, Zero1, "1.0.0",
                    "ZeRO stage 1: optimizer state and fp32 master weights partitioned over ranks", kParams)
