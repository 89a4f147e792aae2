// Shape, TensorView checks and the aligned allocation of Tensor.
#include "tandem/compute/tensor.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace tandem::compute {

Shape::Shape(std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) push_back(d);
}

void Shape::push_back(int64_t d) {
  if (rank_ == kMaxDims)
    throw std::invalid_argument("shape " + to_string() + ": more than " + std::to_string(kMaxDims) + " dimensions");
  if (d < 0) throw std::invalid_argument("shape " + to_string() + ": negative dimension " + std::to_string(d));
  dims_[static_cast<size_t>(rank_++)] = d;
}

int64_t Shape::numel() const noexcept {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<size_t>(i)];
  return n;
}

std::string Shape::to_string() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[static_cast<size_t>(i)]);
  }
  return s + "]";
}

bool operator==(const Shape& a, const Shape& b) noexcept {
  if (a.rank_ != b.rank_) return false;
  for (int i = 0; i < a.rank_; ++i)
    if (a.dims_[static_cast<size_t>(i)] != b.dims_[static_cast<size_t>(i)]) return false;
  return true;
}

void TensorView::check(DType want, Device dev, std::string_view what) const {
  if (dtype != want)
    throw std::invalid_argument(std::string(what) + ": dtype " + std::string(dtype_name(dtype)) + ", expected " +
                                std::string(dtype_name(want)));
  if (device != dev)
    throw std::invalid_argument(std::string(what) + ": on device " + std::string(device_name(device)) +
                                ", expected " + std::string(device_name(dev)));
  if (data == nullptr && numel() > 0) throw std::invalid_argument(std::string(what) + ": no data");
}

void TensorView::expect(DType want_dtype, const Shape& want_shape, std::string_view what) const {
  expect(want_dtype, Device::cpu, want_shape, what);
}

void TensorView::expect(DType want_dtype, Device want_device, const Shape& want_shape, std::string_view what) const {
  check(want_dtype, want_device, what);
  if (!(shape == want_shape))
    throw std::invalid_argument(std::string(what) + ": shape " + shape.to_string() + ", expected " +
                                want_shape.to_string());
}

TensorView TensorView::reshaped(const Shape& s) const {
  if (s.numel() != numel())
    throw std::invalid_argument("reshape " + shape.to_string() + " -> " + s.to_string() + ": element counts differ");
  TensorView v = *this;
  v.shape = s;
  return v;
}

void Tensor::Free::operator()(std::byte* p) const noexcept { std::free(p); }

Tensor::Tensor(const Shape& shape, DType dtype, Device device) {
  if (device != Device::cpu)
    throw std::invalid_argument("Tensor: device " + std::string(device_name(device)) +
                                " is allocated by its own backend, not by the CPU core");
  view_.dtype = dtype;
  view_.device = device;
  view_.shape = shape;
  const size_t bytes = view_.nbytes();
  if (bytes > 0) {
    // aligned_alloc wants a multiple of the alignment.
    const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    void* p = std::aligned_alloc(kAlignment, rounded);
    if (p == nullptr) throw std::bad_alloc();
    storage_.reset(static_cast<std::byte*>(p));
  }
  view_.data = storage_.get();
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t(shape, dtype);
  t.fill_zero();
  return t;
}

void Tensor::fill_zero() noexcept {
  if (view_.data) std::memset(view_.data, 0, view_.nbytes());
}

}  // namespace tandem::compute
