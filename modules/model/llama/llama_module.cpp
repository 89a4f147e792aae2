// The `llama` model module: LlamaModel<float> behind the SDK's model table, on the CPU (fp32
// parameters there whatever the run's working precision; model.hpp's default place()). The math
// lives in llama_model.cpp; this file only translates at the C boundary.
#include "llama_model.hpp"
#include "llama_module_params.hpp"
#include "llama_params.hpp"
#include "tandem/compute/model_bridge.hpp"
#include "tandem/model.hpp"

namespace {

using namespace tandem;

class LlamaModule final : public sdk::Model {
 public:
  explicit LlamaModule(const sdk::Params& p)
      : cfg_(llama::config_from(p)), params_(llama::llama_parameters(cfg_)), model_(cfg_) {}

  std::vector<sdk::ModelParam> parameters() const override {
    return compute::model_params(std::vector<compute::ParamInfo>(model_.parameters().begin(), model_.parameters().end()));
  }
  int32_t layer_count() const override { return cfg_.layer_count(); }
  int64_t hidden_size() const override { return cfg_.hidden_size; }
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  int64_t max_sequence() const override { return cfg_.max_position_embeddings; }

  void init_param(uint32_t index, uint64_t seed, tandem_tensor_view& out) const override {
    llama::llama_init_param(params_, index, seed, compute::to_compute(out));
  }
  tandem_tensor_view forward(const tandem_tensor_view& tokens, sdk::ParamAccess& access, bool train) override {
    compute::AccessBridge bridge(access);
    return compute::to_c(model_.forward(bridge, compute::to_compute(tokens), train));
  }
  void backward(const tandem_tensor_view& dlogits, sdk::ParamAccess& access) override {
    compute::AccessBridge bridge(access);
    model_.backward(bridge, compute::to_compute(dlogits));
  }

 private:
  llama::LlamaConfig cfg_;
  std::vector<llama::LlamaParam> params_;
  llama::LlamaModel<float> model_;
};

}  // namespace

TANDEM_MODEL_MODULE(llama, LlamaModule, "1.0.0",
                    "Llama-family decoder (Llama, Qwen2): RMSNorm, RoPE, SwiGLU, GQA; Hugging Face names, on the CPU",
                    llama::kModuleParams)
