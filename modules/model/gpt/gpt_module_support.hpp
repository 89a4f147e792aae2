// What a module that serves GPT-2 needs between the C boundary and the compute core: the params
// (Hugging Face GPT2Config's names), the config they make, view conversions and the access bridge.
// The `gpt` module uses it, and so does the stand-in GPU's test fixture (tests/engine/fixtures).
#pragma once

#include <string>
#include <vector>

#include "gpt_config.hpp"
#include "gpt_params.hpp"
#include "tandem/compute/param_access.hpp"
#include "tandem/model.hpp"

namespace tandem::gpt {

inline constexpr tandem_param_spec kModuleParams[] = {
    sdk::optional_param("n_layer", TANDEM_PARAM_INT, "12", "transformer blocks", 1, 1024),
    sdk::optional_param("n_head", TANDEM_PARAM_INT, "12", "attention heads (must divide n_embd)", 1, 1024),
    sdk::optional_param("n_embd", TANDEM_PARAM_INT, "768", "width of the residual stream", 1, 65536),
    sdk::optional_param("vocab_size", TANDEM_PARAM_INT, "50257", "tokens; 256 for byte-level text", 1, 1 << 24),
    sdk::optional_param("block_size", TANDEM_PARAM_INT, "1024", "longest sequence (n_positions)", 1, 1 << 20),
};

inline compute::TensorView to_compute(const tandem_tensor_view& v) {
  compute::TensorView out;
  out.data = v.data;
  out.dtype = static_cast<compute::DType>(v.dtype);
  out.device = static_cast<compute::Device>(v.device);
  out.shape = compute::Shape::from_range(v.shape, v.shape + v.ndim);
  return out;
}

inline tandem_tensor_view to_c(const compute::TensorView& v) {
  tandem_tensor_view out{};
  out.struct_size = sizeof out;
  out.dtype = static_cast<uint32_t>(v.dtype);
  out.device = static_cast<uint32_t>(v.device);
  out.data = v.data;
  out.ndim = static_cast<uint32_t>(v.shape.rank());
  for (int d = 0; d < v.shape.rank(); ++d) out.shape[d] = v.shape[d];
  return out;
}

// The host's access table, seen as the compute core's ParamAccess. `as_host`: read every view as host
// memory (the stand-in GPU's device memory is host memory).
class AccessBridge final : public compute::ParamAccess {
 public:
  explicit AccessBridge(sdk::ParamAccess& host, bool as_host = false) : host_(host), as_host_(as_host) {}
  std::vector<compute::TensorView> acquire(int layer) override { return convert(host_.acquire(layer)); }
  void release(int layer) override { host_.release(layer); }
  std::vector<compute::TensorView> acquire_grads(int layer) override { return convert(host_.acquire_grads(layer)); }
  void grads_done(int layer) override { host_.grads_done(layer); }

 private:
  std::vector<compute::TensorView> convert(const std::vector<tandem_tensor_view>& views) const {
    std::vector<compute::TensorView> out;
    out.reserve(views.size());
    for (const tandem_tensor_view& v : views) {
      out.push_back(to_compute(v));
      if (as_host_) out.back().device = compute::Device::cpu;
    }
    return out;
  }
  sdk::ParamAccess& host_;
  bool as_host_;
};

// GPT-2's parameter list as the SDK's model table declares it.
inline std::vector<sdk::ModelParam> module_parameters(const std::vector<GptParam>& params) {
  std::vector<sdk::ModelParam> out;
  for (const GptParam& p : params) {
    sdk::ModelParam m;
    m.name = p.info.name;
    m.shape.assign(p.info.shape.data(), p.info.shape.data() + p.info.shape.rank());
    m.layer = p.info.layer;
    m.flags = p.info.no_weight_decay ? static_cast<uint32_t>(TANDEM_MODEL_PARAM_NO_WEIGHT_DECAY) : 0u;
    out.push_back(std::move(m));
  }
  return out;
}

// The params as a checked config; errors say "gpt: ...".
inline GptConfig config_from(const sdk::Params& p) {
  GptConfig cfg;
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

}  // namespace tandem::gpt
