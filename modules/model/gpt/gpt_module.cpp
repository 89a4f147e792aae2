// The `gpt` model module: GptModel<float> behind the SDK's model table. The model's math lives in
// gpt_model.cpp; this file only translates between the C boundary (tandem_tensor_view,
// tandem_param_access) and the compute core's types (TensorView, ParamAccess).
#include <cmath>

#include "gpt_kv_cache.hpp"
#include "gpt_model.hpp"
#include "gpt_module_support.hpp"
#include "gpt_params.hpp"
#include "tandem/model.hpp"
#if TANDEM_GPT_CUDA
#include "gpt_gpu.hpp"
#endif

namespace {

using namespace tandem;

using gpt::AccessBridge;
using gpt::config_from;
using gpt::to_c;
using gpt::to_compute;

class GptModule final : public sdk::Model {
 public:
  explicit GptModule(const sdk::Params& p)
      : cfg_(config_from(p)), params_(gpt::gpt_parameters(cfg_)), model_(cfg_), cache_(cfg_) {}

  std::vector<sdk::ModelParam> parameters() const override { return gpt::module_parameters(params_); }
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

  // SDK 1.4: generation with a KV cache, on the CPU. On a GPU the host falls back to forward().
  tandem_tensor_view forward_cached(const tandem_tensor_view& tokens, int64_t past, sdk::ParamAccess& access) override {
#if TANDEM_GPT_CUDA
    if (gpu_) throw sdk::Unsupported("gpt (cuda): no KV cache on the GPU yet; the host runs forward() instead");
#endif
    AccessBridge bridge(access);
    const compute::TensorView t = to_compute(tokens);
    t.expect(compute::DType::i32, compute::Device::cpu, t.shape, "gpt forward_cached: tokens (host I32 [B, T_new])");
    if (t.shape.rank() != 2) throw std::invalid_argument("gpt forward_cached: tokens must be [B, T_new]");
    return to_c(cache_.forward(bridge, t.as<int32_t>(), t.shape[0], t.shape[1], past));
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
  gpt::GptKvCache<float> cache_;  // forward_cached's keys and values
#if TANDEM_GPT_CUDA
  std::unique_ptr<gpt::GpuModel> gpu_;  // after place() on a GPU: every pass runs there
  int32_t device_index_ = 0;
#endif
};

}  // namespace

TANDEM_MODEL_MODULE(gpt, GptModule, "1.0.0", "GPT-2 (pre-LayerNorm, tied head), Hugging Face names and layout", gpt::kModuleParams)
