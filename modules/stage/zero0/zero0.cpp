// ZeRO stage 0: plain data parallelism. Every rank holds the whole model state: parameters, the
// accumulated gradients, and the optimizer state for all of it. After each micro-step's backward the
// gradients are averaged over ranks (an all-reduce, summed in rank order) and added to the
// accumulated ones; at the step every rank runs the optimizer on everything and so stays identical
// to the others.
//
// Precision (tandem/working_precision.hpp): in fp32 the parameters are their own master weights; in
// bf16 or fp16 a separate fp32 master is what the optimizer updates, and the parameters the model
// sees are that master rounded to the working type after each step.
//
// Memory (tandem/memory.h): every buffer is in the stage's memory, the optimizer runs there too (on
// a GPU it must declare RUNS_ON_DEVICE; DeepSpeed ignores offload_optimizer under stage 0, and so
// does this stage).
//
// Layout (tandem/flat_layout.hpp): one flat buffer per optimizer group, padded to the world size,
// as the partitioned stages use, so that "the same element" means the same thing under every stage.
#include <algorithm>
#include <cstring>
#include <memory>

#include "tandem/flat_layout.hpp"
#include "tandem/grad_norm.hpp"
#include "tandem/memory.hpp"
#include "tandem/stage.hpp"
#include "tandem/working_precision.hpp"

namespace {

using tandem::sdk::Buffer;
using tandem::sdk::FlatLayout;

const tandem_param_spec kParams[] = {
    tandem::sdk::optional_param("all_reduce", TANDEM_PARAM_BOOL, "true",
                                "average gradients over ranks after each micro-step (off only for tests)"),
};

class Zero0 final : public tandem::sdk::Stage {
 public:
  explicit Zero0(const tandem::sdk::Params& p) : all_reduce_(p.boolean("all_reduce")) {}

  void setup(const tandem::sdk::StageSetup& s) override {
    setup_ = s;
    layout_ = std::make_unique<FlatLayout>(s.params.data(), static_cast<uint32_t>(s.params.size()),
                                           s.param_groups.data(), s.group_count, s.world_size);
    const size_t n = layout_->total_padded();
    const tandem::sdk::Memory& memory = s.memory;
    dtype_ = tandem::sdk::working_dtype(s.options);
    storage_ = memory.storage_dtype(dtype_);
    element_ = memory.storage_size(dtype_);
    params_ = Buffer<std::byte>(memory, n * element_);
    if (dtype_ != TANDEM_DTYPE_F32) master_ = Buffer<float>(memory, n);
    if (s.optimizer) {  // without one the engine only runs forward: no gradients to keep
      // On a GPU the model's state is device memory: the optimizer must say it runs there. (On the
      // CPU stage 0 has never asked: it is where every optimizer can be tested.)
      if (memory.on_device() && (s.optimizer.capabilities() & TANDEM_OPTIMIZER_RUNS_ON_DEVICE) == 0)
        throw std::invalid_argument(
            "ZeRO stage 0: the optimizer does not run on the GPU, where this stage keeps the model (it does not "
            "declare TANDEM_OPTIMIZER_RUNS_ON_DEVICE; stage 0 does not offload, as in DeepSpeed: use stage 1 or 2 "
            "with offload_optimizer for a host optimizer)");
      s.optimizer.place(memory.where());
      grads_ = Buffer<float>(memory, n);
      micro_grads_ = Buffer<float>(memory, n);
    }
    by_layer_.assign(static_cast<size_t>(s.layer_count), {});
    for (uint32_t i = 0; i < s.params.size(); ++i) by_layer_[static_cast<size_t>(s.params[i].layer)].push_back(i);
    // Every parameter is whole in the one shard (the whole model), at its place in the flat layout.
    for (uint32_t i = 0; i < s.params.size(); ++i) {
      tandem_optimizer_piece piece{};
      piece.struct_size = sizeof piece;
      piece.param = i;
      piece.name = s.params[i].name;
      piece.ndim = s.params[i].ndim;
      std::copy(s.params[i].shape, s.params[i].shape + s.params[i].ndim, piece.shape);
      piece.shard_offset = layout_->global_offset(i);
      piece.count = numel(i);
      if (piece.count > 0) pieces_.push_back(piece);
    }
    std::sort(pieces_.begin(), pieces_.end(), [](const tandem_optimizer_piece& a, const tandem_optimizer_piece& b) {
      return a.shard_offset < b.shard_offset;
    });
    if (s.optimizer) setup_.optimizer.init_state(n);
  }

  void set_param(uint32_t index, const tandem_tensor_view& full) override {
    check_fp32(full, index);
    const tandem::sdk::Memory& memory = setup_.memory;
    const size_t at = layout_->global_offset(index), n = numel(index);
    const auto* values = static_cast<const float*>(full.data);
    // The fp32 values in this stage's memory: the master itself, or (fp32 without one) staged.
    Buffer<float> staged;
    const float* source = nullptr;
    if (!master_.empty()) {
      memory.copy(master_.data() + at, values, n * sizeof(float));
      source = master_.data() + at;
    } else {
      source = tandem::sdk::from_host(memory, values, n, staged);
    }
    memory.to_working(params_.data() + at * element_, source, n, dtype_);
    memory.synchronize();
  }
  void get_param(uint32_t index, tandem_tensor_view& out) override {
    check_fp32(out, index);
    tandem::sdk::working_to_host(setup_.memory, static_cast<float*>(out.data),
                                 params_.data() + layout_->global_offset(index) * element_, numel(index), dtype_);
  }

  void acquire(int32_t layer, tandem_tensor_view* views) override {
    fill_views(layer, params_.data(), storage_, views);
  }
  void release(int32_t) override {}
  void acquire_grads(int32_t layer, tandem_tensor_view* views) override {
    if (!setup_.optimizer) throw std::invalid_argument("no gradients: this stage was set up without an optimizer");
    fill_views(layer, reinterpret_cast<std::byte*>(micro_grads_.data()), TANDEM_DTYPE_F32, views);
  }
  void grads_done(int32_t) override {}  // stage 0 reduces everything at once in end_backward

  void end_backward() override {
    const tandem::sdk::Memory& memory = setup_.memory;
    memory.round(micro_grads_.data(), micro_grads_.size(), dtype_);
    if (all_reduce_ && setup_.world_size > 1)
      setup_.comm.all_reduce(micro_grads_.data(), micro_grads_.size(), TANDEM_REDUCE_AVERAGE);
    memory.add(grads_.data(), micro_grads_.data(), grads_.size());
    memory.fill_zero(micro_grads_.data(), micro_grads_.bytes());
  }

  double grad_norm() override {
    // Every rank holds the same averaged gradients: the exact sum needs no communication.
    tandem::sdk::ExactSquareSum sum;
    setup_.memory.square_sum(grads_.data(), grads_.size(), sum);
    return sum.norm();
  }

  void step(const tandem_stage_step_args& args) override {
    if (args.group_count != layout_->groups().size())
      throw std::invalid_argument("step: " + std::to_string(args.group_count) + " groups of hyper-parameters for " +
                                  std::to_string(layout_->groups().size()) + " groups");
    std::vector<tandem_optimizer_group> groups;
    for (size_t g = 0; g < layout_->groups().size(); ++g) {
      const tandem::sdk::FlatGroup& fg = layout_->groups()[g];
      groups.push_back(tandem_optimizer_group{sizeof(tandem_optimizer_group), fg.base, fg.numel, args.group_hparams[g]});
    }
    tandem_optimizer_step_args opt{};
    opt.struct_size = sizeof opt;
    opt.step = args.step;
    opt.params = master();
    opt.grads = grads_.data();
    opt.grad_dtype = TANDEM_DTYPE_F32;
    opt.grad_scale = args.grad_scale;
    opt.numel = layout_->total_padded();
    opt.groups = groups.data();
    opt.group_count = static_cast<uint32_t>(groups.size());
    opt.pieces = pieces_.data();
    opt.piece_count = static_cast<uint32_t>(pieces_.size());
    setup_.optimizer.step(opt);
    if (!master_.empty()) setup_.memory.to_working(params_.data(), master_.data(), master_.size(), dtype_);
    zero_grads();
  }

  void zero_grads() override { setup_.memory.fill_zero(grads_.data(), grads_.bytes()); }

  tandem_stage_memory memory() const override {
    tandem_stage_memory m{};
    m.struct_size = sizeof m;
    m.param_bytes = params_.bytes();
    m.grad_bytes = grads_.bytes() + micro_grads_.bytes();
    m.master_bytes = master_.bytes();  // 0 in fp32: the parameters are the master
    m.optimizer_state_bytes = setup_.optimizer ? setup_.optimizer.state_bytes() : 0;
    return m;
  }

  void master_shard(uint32_t group, tandem_tensor_view& shard, uint64_t& offset, uint64_t& padded) override {
    if (group >= layout_->groups().size()) throw std::invalid_argument("master_shard: no group " + std::to_string(group));
    const tandem::sdk::FlatGroup& g = layout_->groups()[group];
    shard = tandem::sdk::make_view(master() + g.base, TANDEM_DTYPE_F32, {static_cast<int64_t>(g.padded)});
    shard.device = setup_.memory.where().device;
    shard.device_index = setup_.memory.where().device_index;
    offset = 0;
    padded = g.padded;
  }

 private:
  // The fp32 master: the parameters themselves in fp32 (whose storage is fp32 on every device).
  float* master() { return master_.empty() ? reinterpret_cast<float*>(params_.data()) : master_.data(); }
  size_t numel(uint32_t index) const { return layout_->params().at(index).numel; }
  void check_fp32(const tandem_tensor_view& v, uint32_t index) const {
    if (index >= layout_->params().size()) throw std::invalid_argument("no parameter " + std::to_string(index));
    if (v.dtype != TANDEM_DTYPE_F32 || static_cast<size_t>(tandem::sdk::numel(v)) != numel(index))
      throw std::invalid_argument(std::string("parameter ") + setup_.params[index].name + ": expected " +
                                  std::to_string(numel(index)) + " fp32 elements");
  }
  // Views of the layer's parameters in a flat buffer of `dtype` elements at `base`.
  void fill_views(int32_t layer, std::byte* base, tandem_dtype dtype, tandem_tensor_view* views) {
    if (layer < 0 || static_cast<size_t>(layer) >= by_layer_.size())
      throw std::invalid_argument("no layer " + std::to_string(layer));
    size_t k = 0;
    for (uint32_t i : by_layer_[static_cast<size_t>(layer)]) {
      const tandem_model_param& p = setup_.params[i];
      tandem_tensor_view& v = views[k++];
      v = tandem_tensor_view{};
      v.struct_size = sizeof v;
      v.dtype = dtype;
      v.device = setup_.memory.where().device;
      v.device_index = setup_.memory.where().device_index;
      v.data = base + layout_->global_offset(i) * tandem::sdk::dtype_size(dtype);
      v.ndim = p.ndim;
      std::copy(p.shape, p.shape + p.ndim, v.shape);
    }
  }

  bool all_reduce_;
  tandem::sdk::StageSetup setup_;
  std::unique_ptr<FlatLayout> layout_;
  tandem_dtype dtype_ = TANDEM_DTYPE_F32;
  tandem_dtype storage_ = TANDEM_DTYPE_F32;  // how a working element is stored in this memory
  size_t element_ = sizeof(float);           // and its size
  Buffer<std::byte> params_;                 // the working parameters, flat layout
  Buffer<float> grads_, micro_grads_;
  Buffer<float> master_;  // fp32 master weights when the working precision is not fp32
  std::vector<std::vector<uint32_t>> by_layer_;
  std::vector<tandem_optimizer_piece> pieces_;  // for the optimizer: every parameter, whole
};

}  // namespace

TANDEM_STAGE_MODULE(zero0, Zero0, "1.0.0", "ZeRO stage 0: plain data parallelism, gradients averaged over ranks",
                    kParams)
