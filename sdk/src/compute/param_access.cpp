// ResidentParams: every parameter and gradient resident in one flat buffer each.
#include "tandem/compute/param_access.hpp"

#include <stdexcept>
#include <string>

namespace tandem::compute {
namespace {
// Each parameter starts on a 64-byte boundary (16 floats), so kernels see aligned rows.
int64_t aligned_elements(int64_t n, DType dtype) {
  const int64_t per_line = 64 / static_cast<int64_t>(dtype_size(dtype));
  return (n + per_line - 1) / per_line * per_line;
}
}  // namespace

ResidentParams::ResidentParams(std::vector<ParamInfo> infos, DType dtype) : infos_(std::move(infos)) {
  int64_t total = 0;
  int max_layer = -1;
  for (const ParamInfo& p : infos_) {
    if (p.layer < 0) throw std::invalid_argument("parameter " + p.name + ": negative layer " + std::to_string(p.layer));
    offsets_.push_back(total);
    total += aligned_elements(p.shape.numel(), dtype);
    max_layer = std::max(max_layer, p.layer);
  }
  by_layer_.resize(static_cast<size_t>(max_layer + 1));
  for (size_t i = 0; i < infos_.size(); ++i) by_layer_[static_cast<size_t>(infos_[i].layer)].push_back(i);
  params_ = Tensor::zeros(Shape{total}, dtype);
  grads_ = Tensor::zeros(Shape{total}, dtype);
}

namespace {
TensorView slice(const Tensor& flat, int64_t offset, const Shape& shape) {
  TensorView v = flat.view();
  v.data = static_cast<std::byte*>(flat.data()) + offset * static_cast<int64_t>(dtype_size(flat.dtype()));
  v.shape = shape;
  return v;
}
}  // namespace

TensorView ResidentParams::param(size_t i) const { return slice(params_, offsets_.at(i), infos_.at(i).shape); }
TensorView ResidentParams::grad(size_t i) const { return slice(grads_, offsets_.at(i), infos_.at(i).shape); }

std::vector<TensorView> ResidentParams::views(const Tensor& flat, int layer) const {
  if (layer < 0 || layer >= layer_count())
    throw std::invalid_argument("layer " + std::to_string(layer) + " outside [0, " + std::to_string(layer_count()) +
                                ")");
  std::vector<TensorView> out;
  for (size_t i : by_layer_[static_cast<size_t>(layer)]) out.push_back(slice(flat, offsets_[i], infos_[i].shape));
  return out;
}

std::vector<TensorView> ResidentParams::acquire(int layer) { return views(params_, layer); }
void ResidentParams::release(int) {}
std::vector<TensorView> ResidentParams::acquire_grads(int layer) { return views(grads_, layer); }
void ResidentParams::grads_done(int) {}

}  // namespace tandem::compute
