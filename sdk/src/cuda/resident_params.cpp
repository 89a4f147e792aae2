// Device-resident parameters with a fused AdamW (the contract: tandem/cuda/resident_params.hpp).
#include "tandem/cuda/resident_params.hpp"

#include <stdexcept>
#include <string>
#include <type_traits>

#include "tandem/compute/bf16.hpp"
#include "tandem/cuda/adamw.hpp"
#include "tandem/cuda/convert.hpp"

namespace tandem::cuda {

namespace {
// Each parameter starts on a 16-element boundary (32 bytes of bf16, 64 of fp32): vector loads and
// cuBLASLt's alignment preferences hold for every parameter, not only the first.
constexpr int64_t kAlign = 16;
}  // namespace

template <class T>
ResidentParams<T>::ResidentParams(std::vector<compute::ParamInfo> infos, cudaStream_t stream)
    : infos_(std::move(infos)), stream_(stream) {
  int layers = 0;
  for (const compute::ParamInfo& p : infos_) {
    offsets_.push_back(total_);
    total_ += (p.shape.numel() + kAlign - 1) / kAlign * kAlign;
    layers = std::max(layers, p.layer + 1);
  }
  by_layer_.resize(static_cast<size_t>(layers));
  for (size_t i = 0; i < infos_.size(); ++i) by_layer_[static_cast<size_t>(infos_[i].layer)].push_back(i);
  const size_t n = static_cast<size_t>(total_);
  master_ = DeviceArray<float>(n);
  grads_ = DeviceArray<float>(n);
  m_ = DeviceArray<float>(n);
  v_ = DeviceArray<float>(n);
  if constexpr (!std::is_same_v<T, float>) working_ = DeviceArray<T>(n);
  // Zero everything, the padding included: the optimizer steps over whole parameters only, but a
  // reader of the flat buffers must never see garbage.
  for (const DeviceArray<float>* a : {&master_, &grads_, &m_, &v_}) fill_bytes(a->get(), 0, n * sizeof(float));
  if constexpr (!std::is_same_v<T, float>) fill_bytes(working_.get(), 0, n * sizeof(T));
}

template <class T>
void ResidentParams<T>::set_param(size_t i, const float* host_values) {
  const size_t n = static_cast<size_t>(infos_.at(i).shape.numel());
  float* dst = master_.get() + offsets_[i];
  copy_to_device(dst, host_values, n * sizeof(float));
  if constexpr (!std::is_same_v<T, float>) {
    convert(dst, working_.get() + offsets_[i], static_cast<int64_t>(n), stream_);
    synchronize();
  }
}

template <class T>
std::vector<float> ResidentParams<T>::master(size_t i) const {
  std::vector<float> out(static_cast<size_t>(infos_.at(i).shape.numel()));
  synchronize();
  copy_to_host(out.data(), master_.get() + offsets_[i], out.size() * sizeof(float));
  return out;
}

template <class T>
std::vector<float> ResidentParams<T>::grad(size_t i) const {
  std::vector<float> out(static_cast<size_t>(infos_.at(i).shape.numel()));
  synchronize();
  copy_to_host(out.data(), grads_.get() + offsets_[i], out.size() * sizeof(float));
  return out;
}

template <class T>
void ResidentParams<T>::zero_grads() {
  fill_bytes_async(grads_.get(), 0, static_cast<size_t>(total_) * sizeof(float), stream_);
}

template <class T>
void ResidentParams<T>::adamw_step(int64_t step, const AdamHparams& h, double grad_scale) {
  if (step < 1) throw std::invalid_argument("adamw_step: step " + std::to_string(step) + " (1-based)");
  const AdamConstants decayed = make_constants(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, step,
                                               h.bias_correction, h.adam_w_mode, grad_scale);
  const AdamConstants plain =
      make_constants(h.lr, h.beta1, h.beta2, h.eps, 0.0, step, h.bias_correction, h.adam_w_mode, grad_scale);
  // One launch per parameter: ~150 for GPT-2, a few microseconds each, against a step of ~100 ms.
  for (size_t i = 0; i < infos_.size(); ++i) {
    const int64_t o = offsets_[i];
    bf16* p16 = nullptr;
    if constexpr (!std::is_same_v<T, float>) p16 = working_.get() + o;
    adam_update(master_.get() + o, grads_.get() + o, m_.get() + o, v_.get() + o, p16, infos_[i].shape.numel(),
                infos_[i].no_weight_decay ? plain : decayed, stream_);
  }
}

template <class T>
std::vector<compute::TensorView> ResidentParams<T>::views(void* base, compute::DType dtype, int layer) const {
  if (layer < 0 || static_cast<size_t>(layer) >= by_layer_.size())
    throw std::out_of_range("ResidentParams: layer " + std::to_string(layer) + " of " +
                            std::to_string(by_layer_.size()));
  std::vector<compute::TensorView> out;
  for (size_t i : by_layer_[static_cast<size_t>(layer)]) {
    compute::TensorView v;
    v.data = static_cast<char*>(base) + static_cast<size_t>(offsets_[i]) * compute::dtype_size(dtype);
    v.dtype = dtype;
    v.device = compute::Device::cuda;
    v.shape = infos_[i].shape;
    out.push_back(v);
  }
  return out;
}

template <class T>
std::vector<compute::TensorView> ResidentParams<T>::acquire(int layer) {
  if constexpr (std::is_same_v<T, float>) return views(master_.get(), compute::DType::f32, layer);
  else return views(working_.get(), compute::DType::bf16, layer);
}

template <class T>
std::vector<compute::TensorView> ResidentParams<T>::acquire_grads(int layer) {
  return views(grads_.get(), compute::DType::f32, layer);
}

template class ResidentParams<float>;
template class ResidentParams<bf16>;

}  // namespace tandem::cuda
