// The `gpt` model module: GptModel<float> behind the SDK's model table. The model's math lives in
// gpt_model.cpp; this file only translates between the C boundary (tandem_tensor_view,
// tandem_param_access) and the compute core's types (TensorView, ParamAccess).
#include <cmath>

#include "gpt_model.hpp"
#include "gpt_params.hpp"
#include "tandem/model.hpp"
#if TANDEM_GPT_CUDA
#include "gpt_gpu.hpp"
#endif

namespace {

using namespace tandem;

const tandem_param_spec kParams[] = {
    sdk::optional_param("n_layer", TANDEM_PARAM_INT, "12", "transformer blocks", 1, 1024),
    sdk::optional_param("n_head", TANDEM_PARAM_INT, "12", "attention heads (must divide n_embd)", 1, 1024),
    sdk::optional_param("n_embd", TANDEM_PARAM_INT, "768", "width of the residual stream", 1, 65536),
    sdk::optional_param("vocab_size", TANDEM_PARAM_INT, "50257", "tokens; 256 for byte-level text", 1, 1 << 24),
    sdk::optional_param("block_size", TANDEM_PARAM_INT, "1024", "longest sequence (n_positions)", 1, 1 << 20),
};

compute::TensorView to_compute(const tandem_tensor_view& v) {
  compute::TensorView out;
  out.data = v.data;
  out.dtype = static_cast<compute::DType>(v.dtype);
  out.device = static_cast<compute::Device>(v.device);
  out.shape = compute::Shape::from_range(v.shape, v.shape + v.ndim);
  return out;
}

tandem_tensor_view to_c(const compute::TensorView& v) {
  tandem_tensor_view out{};
  out.struct_size = sizeof out;
  out.dtype = static_cast<uint32_t>(v.dtype);
  out.device = static_cast<uint32_t>(v.device);
  out.data = v.data;
  out.ndim = static_cast<uint32_t>(v.shape.rank());
  for (int d = 0; d < v.shape.rank(); ++d) out.shape[d] = v.shape[d];
  return out;
}

// The host's access table, seen as the compute core's ParamAccess.
class AccessBridge final : public compute::ParamAccess {
 public:
  explicit AccessBridge(sdk::ParamAccess& host) : host_(host) {}
  std::vector<compute::TensorView> acquire(int layer) override { return convert(host_.acquire(layer)); }
  void release(int layer) override { host_.release(layer); }
  std::vector<compute::TensorView> acquire_grads(int layer) override { return convert(host_.acquire_grads(layer)); }
  void grads_done(int layer) override { host_.grads_done(layer); }

 private:
  static std::vector<compute::TensorView> convert(const std::vector<tandem_tensor_view>& views) {
    std::vector<compute::TensorView> out;
    out.reserve(views.size());
    for (const tandem_tensor_view& v : views) out.push_back(to_compute(v));
    return out;
  }
  sdk::ParamAccess& host_;
};

gpt::GptConfig config_from(const sdk::Params& p) {
  gpt::GptConfig cfg;
  cfg.n_layer = p.integer("n_layer");
  cfg.n_head = p.integer("n_head");
  cfg.n_embd = p.integer("n_embd");
  cfg.vocab_size = p.integer("vocab_size");
  cfg.block_size = p.integer("block_size");
  try {
    cfg.validate();
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("gpt: ") + e.what());
  }
  return cfg;
}

class GptModule final : public sdk::Model {
 public:
  explicit GptModule(const sdk::Params& p)
      : cfg_(config_from(p)), params_(gpt::gpt_parameters(cfg_)), model_(cfg_) {}

  std::vector<sdk::ModelParam> parameters() const override {
    std::vector<sdk::ModelParam> out;
    for (const gpt::GptParam& p : params_) {
      sdk::ModelParam m;
      m.name = p.info.name;
      m.shape.assign(p.info.shape.data(), p.info.shape.data() + p.info.shape.rank());
      m.layer = p.info.layer;
      m.flags = p.info.no_weight_decay ? static_cast<uint32_t>(TANDEM_MODEL_PARAM_NO_WEIGHT_DECAY) : 0u;
      out.push_back(std::move(m));
    }
    return out;
  }
  int32_t layer_count() const override { return cfg_.layer_count(); }
  int64_t hidden_size() const override { return cfg_.n_embd; }
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  int64_t max_sequence() const override { return cfg_.block_size; }

  void init_param(uint32_t index, uint64_t seed, tandem_tensor_view& out) const override {
    if (index >= params_.size()) throw std::invalid_argument("gpt: no parameter " + std::to_string(index));
    gpt::gpt_init_param(params_, index, seed, to_compute(out));
  }

  tandem_tensor_view forward(const tandem_tensor_view& tokens, sdk::ParamAccess& access, bool train) override {
    AccessBridge bridge(access);
#if TANDEM_GPT_CUDA
    if (gpu_) {
      const compute::TensorView t = to_compute(tokens);
      t.expect(compute::DType::i32, compute::Device::cpu, t.shape, "gpt (cuda): tokens (host I32 [B, T])");
      if (t.shape.rank() != 2) throw std::invalid_argument("gpt (cuda): tokens must be [B, T]");
      tandem_tensor_view out = to_c(gpu_->forward(bridge, t.as<int32_t>(), t.shape[0], t.shape[1], train));
      out.device_index = device_index_;
      return out;
    }
#endif
    return to_c(model_.forward(bridge, to_compute(tokens), train));
  }
  void backward(const tandem_tensor_view& dlogits, sdk::ParamAccess& access) override {
    AccessBridge bridge(access);
#if TANDEM_GPT_CUDA
    if (gpu_) {
      if (dlogits.device != TANDEM_DEVICE_CUDA) throw std::invalid_argument("gpt (cuda): dlogits must be on the GPU");
      gpu_->backward(bridge, dlogits.data);
      return;
    }
#endif
    model_.backward(bridge, to_compute(dlogits));
  }

  // The CPU (the default), or a GPU where this module is built with the CUDA backend: fp32 or bf16.
  void place(const tandem_placement& where, tandem_dtype dtype) override {
    if (where.device == TANDEM_DEVICE_CPU) return;
    if (where.device != TANDEM_DEVICE_CUDA) throw sdk::Unsupported("gpt: unknown device type");
#if TANDEM_GPT_CUDA
    gpu_ = gpt::make_gpu_model(cfg_, where, dtype);
    device_index_ = where.device_index;
#else
    (void)dtype;
    throw sdk::Unsupported("this gpt module was built without the CUDA backend (no nvcc when it was configured)");
#endif
  }

 private:
  gpt::GptConfig cfg_;
  std::vector<gpt::GptParam> params_;
  gpt::GptModel<float> model_;
#if TANDEM_GPT_CUDA
  std::unique_ptr<gpt::GpuModel> gpu_;  // after place() on a GPU: every pass runs there
  int32_t device_index_ = 0;
#endif
};

}  // namespace

TANDEM_MODEL_MODULE(gpt, GptModule, "1.0.0", "GPT-2 (pre-LayerNorm, tied head), Hugging Face names and layout", kParams)
