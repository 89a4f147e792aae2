// Between a model module's C boundary (tandem/model.h) and the compute core: view conversions, the
// host's access table seen as a compute::ParamAccess, and a ParamInfo list as the SDK's model table
// declares it. Header-only; a model module written on the compute core (llama, the `tandem new
// module --kind model` template) includes it instead of writing these again.
#pragma once

#include <vector>

#include "tandem/compute/param_access.hpp"
#include "tandem/compute/tensor.hpp"
#include "tandem/model.hpp"

namespace tandem::compute {

inline TensorView to_compute(const tandem_tensor_view& v) {
  TensorView out;
  out.data = v.data;
  out.dtype = static_cast<DType>(v.dtype);
  out.device = static_cast<Device>(v.device);
  out.shape = Shape::from_range(v.shape, v.shape + v.ndim);
  return out;
}

inline tandem_tensor_view to_c(const TensorView& v) {
  tandem_tensor_view out{};
  out.struct_size = sizeof out;
  out.dtype = static_cast<uint32_t>(v.dtype);
  out.device = static_cast<uint32_t>(v.device);
  out.data = v.data;
  out.ndim = static_cast<uint32_t>(v.shape.rank());
  for (int d = 0; d < v.shape.rank(); ++d) out.shape[d] = v.shape[d];
  return out;
}

// The host's access table as the compute core's ParamAccess (one pass; it holds a reference).
class AccessBridge final : public ParamAccess {
 public:
  explicit AccessBridge(sdk::ParamAccess& host) : host_(host) {}
  std::vector<TensorView> acquire(int layer) override { return convert(host_.acquire(layer)); }
  void release(int layer) override { host_.release(layer); }
  std::vector<TensorView> acquire_grads(int layer) override { return convert(host_.acquire_grads(layer)); }
  void grads_done(int layer) override { host_.grads_done(layer); }

 private:
  static std::vector<TensorView> convert(const std::vector<tandem_tensor_view>& views) {
    std::vector<TensorView> out;
    out.reserve(views.size());
    for (const tandem_tensor_view& v : views) out.push_back(to_compute(v));
    return out;
  }
  sdk::ParamAccess& host_;
};

// A model's ParamInfo list as the SDK's model table declares it.
inline std::vector<sdk::ModelParam> model_params(const std::vector<ParamInfo>& infos) {
  std::vector<sdk::ModelParam> out;
  for (const ParamInfo& p : infos) {
    sdk::ModelParam m;
    m.name = p.name;
    m.shape.assign(p.shape.data(), p.shape.data() + p.shape.rank());
    m.layer = p.layer;
    m.flags = p.no_weight_decay ? static_cast<uint32_t>(TANDEM_MODEL_PARAM_NO_WEIGHT_DECAY) : 0u;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace tandem::compute
