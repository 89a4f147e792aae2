// The state an engine's ranks hold, as the host sees it: the stage's master shards and the
// optimizer's named state buffers are tensor views in host or GPU memory; these read and write them
// through the host (Engine::save and both ways of Engine::load share them).
#pragma once

#include <algorithm>
#include <deque>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "device/gpu.hpp"
#include "tandem/call.hpp"
#include "tandem/optimizer.h"
#include "tandem/registry.hpp"
#include "tandem/safetensors.hpp"
#include "tandem/stage.h"
#include "tandem/tensor.h"

namespace tandem::engine_state {

inline size_t view_numel(const tandem_tensor_view& v) {
  size_t n = 1;
  for (uint32_t d = 0; d < v.ndim; ++d) n *= static_cast<size_t>(v.shape[d]);
  return n;
}

// A state view's values on the host: the view itself there, a copy from the GPU kept in `copies` (the
// tensors to write refer to it until they are written).
inline std::span<const float> host_values(const tandem_tensor_view& view, size_t n, const gpu::Device* gpu,
                                   std::deque<std::vector<float>>& copies) {
  if (view.device == TANDEM_DEVICE_CPU) return {static_cast<const float*>(view.data), n};
  if (gpu == nullptr) throw std::runtime_error("a GPU view in an engine on the CPU");
  copies.emplace_back(n);
  gpu->read(view.data, view.dtype, copies.back());
  return copies.back();
}

// A tensor of the file into a state view, through the host for a GPU view.
inline void read_into_view(const safetensors::File& file, const std::string& name, const tandem_tensor_view& view, size_t n,
                    const gpu::Device* gpu) {
  if (view.device == TANDEM_DEVICE_CPU) {
    file.read_f32(name, std::span<float>(static_cast<float*>(view.data), n));
    return;
  }
  if (gpu == nullptr) throw std::runtime_error("a GPU view in an engine on the CPU");
  std::vector<float> values(n);
  file.read_f32(name, values);
  gpu->write(values, view.data);
}

// Full values into a state view, through the host for a GPU view.
inline void write_view(std::span<const float> values, const tandem_tensor_view& view, const gpu::Device* gpu) {
  if (view.device == TANDEM_DEVICE_CPU) {
    std::copy(values.begin(), values.end(), static_cast<float*>(view.data));
    return;
  }
  if (gpu == nullptr) throw std::runtime_error("a GPU view in an engine on the CPU");
  gpu->write(values, view.data);
}

// A rank's master shard of optimizer group `g`: the stage's view of it, where it starts in the group's
// padded flat buffer, that buffer's size, and the shard's element count.
struct MasterShard {
  tandem_tensor_view view{};
  uint64_t offset = 0, padded = 0;
  size_t numel = 0;
};
inline MasterShard master_shard(const ModuleInstance& stage, const tandem_stage_vtable& vt, uint32_t g) {
  MasterShard m;
  m.view.struct_size = sizeof m.view;
  sdk::call_checked([&](tandem_error* err) { return vt.master_shard(stage.handle(), g, &m.view, &m.offset, &m.padded, err); });
  m.numel = view_numel(m.view);
  return m;
}

// The optimizer's named state buffers of one rank.
inline std::vector<std::pair<std::string, tandem_tensor_view>> optimizer_buffers(const ModuleInstance& optimizer,
                                                                          const tandem_optimizer_vtable& vt) {
  std::vector<std::pair<std::string, tandem_tensor_view>> out;
  const uint32_t n = vt.state_buffer_count(optimizer.handle());
  for (uint32_t i = 0; i < n; ++i) {
    const char* name = nullptr;
    tandem_tensor_view view{};
    view.struct_size = sizeof view;
    sdk::call_checked([&](tandem_error* err) { return vt.state_buffer(optimizer.handle(), i, &name, &view, err); });
    if (view.dtype != TANDEM_DTYPE_F32 || (view.device != TANDEM_DEVICE_CPU && view.device != TANDEM_DEVICE_CUDA))
      throw std::runtime_error(optimizer.label() + ": optimizer state '" + name + "' is not fp32 host or GPU memory");
    out.emplace_back(name, view);
  }
  return out;
}

}  // namespace tandem::engine_state
