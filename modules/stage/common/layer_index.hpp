// The model's parameters by layer, and the checks and views every stage makes of them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/memory.hpp"
#include "tandem/stage.hpp"
#include "tandem/tensor.hpp"

namespace tandem::stage {

class LayerIndex {
 public:
  explicit LayerIndex(const sdk::StageSetup& s) : params_(s.params) {
    if (s.layer_count < 1) throw std::invalid_argument("the model declares no layers");
    by_layer_.assign(static_cast<size_t>(s.layer_count), {});
    for (uint32_t i = 0; i < s.params.size(); ++i) {
      const int32_t layer = s.params[i].layer;
      if (layer < 0 || layer >= s.layer_count)
        throw std::invalid_argument(std::string("parameter ") + s.params[i].name + " is in layer " +
                                    std::to_string(layer) + " of a model with " + std::to_string(s.layer_count));
      by_layer_[static_cast<size_t>(layer)].push_back(i);
    }
  }

  int32_t layer_count() const { return static_cast<int32_t>(by_layer_.size()); }
  // The layer's parameters in the model's order (the order its views are handed out in).
  const std::vector<uint32_t>& params_of(int32_t layer) const {
    check_layer(layer);
    return by_layer_[static_cast<size_t>(layer)];
  }
  void check_layer(int32_t layer) const {
    if (layer < 0 || layer >= layer_count())
      throw std::invalid_argument("no layer " + std::to_string(layer) + " (the model has " +
                                  std::to_string(layer_count()) + ")");
  }
  const tandem_model_param& info(uint32_t index) const { return params_.at(index); }
  size_t numel(uint32_t index) const {
    const tandem_model_param& p = info(index);
    size_t n = 1;
    for (uint32_t d = 0; d < p.ndim; ++d) n *= static_cast<size_t>(p.shape[d]);
    return n;
  }

  // A view of parameter `index` in its true shape: `dtype` elements at `data`, on the device `where`
  // names (the stage's memory), host fp32 by default.
  tandem_tensor_view view(uint32_t index, void* data, tandem_dtype dtype = TANDEM_DTYPE_F32,
                          const tandem_placement& where = sdk::host_memory_ops()->where) const {
    const tandem_model_param& p = info(index);
    tandem_tensor_view v{};
    v.struct_size = sizeof v;
    v.dtype = dtype;
    v.device = where.device;
    v.device_index = where.device_index;
    v.data = data;
    v.ndim = p.ndim;
    std::copy(p.shape, p.shape + p.ndim, v.shape);
    return v;
  }

  // set_param/get_param take the full value of a parameter: fp32, all of its elements.
  void check_full(uint32_t index, const tandem_tensor_view& v) const {
    if (index >= params_.size())
      throw std::invalid_argument("no parameter " + std::to_string(index) + " (the model has " +
                                  std::to_string(params_.size()) + ")");
    if (v.dtype != TANDEM_DTYPE_F32 || static_cast<size_t>(sdk::numel(v)) != numel(index) ||
        (numel(index) > 0 && v.data == nullptr))
      throw std::invalid_argument(std::string("parameter ") + info(index).name + ": expected " +
                                  std::to_string(numel(index)) + " fp32 elements");
  }

 private:
  std::vector<tandem_model_param> params_;
  std::vector<std::vector<uint32_t>> by_layer_;
};

}  // namespace tandem::stage
