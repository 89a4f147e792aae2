// Tensors of the compute core: Shape, TensorView (non-owning) and Tensor (owning, aligned).
//
// Both are contiguous and row-major: the kernels take raw pointers and sizes, and a view is how a
// buffer travels with its dtype, device and shape so that preconditions can be checked (by name)
// before a kernel runs. Device::cuda is carried through but CPU code refuses to touch it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "tandem/compute/dtype.hpp"

namespace tandem::compute {

class Shape {
 public:
  static constexpr int kMaxDims = 6;  // as TANDEM_MAX_DIMS in tandem/tensor.h

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);  // throws std::invalid_argument: too many, negative
  template <class It>
  static Shape from_range(It first, It last) {
    Shape s;
    for (; first != last; ++first) s.push_back(static_cast<int64_t>(*first));
    return s;
  }

  int rank() const noexcept { return rank_; }
  int64_t operator[](int i) const noexcept { return dims_[static_cast<size_t>(i)]; }
  const int64_t* data() const noexcept { return dims_.data(); }
  int64_t numel() const noexcept;  // 1 for rank 0
  void push_back(int64_t d);       // throws std::invalid_argument: too many, negative

  std::string to_string() const;  // "[2, 3, 4]"
  friend bool operator==(const Shape& a, const Shape& b) noexcept;

 private:
  std::array<int64_t, kMaxDims> dims_{};
  int rank_ = 0;
};

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::f32;
  Device device = Device::cpu;
  Shape shape;

  int64_t numel() const noexcept { return shape.numel(); }
  size_t nbytes() const noexcept { return static_cast<size_t>(numel()) * dtype_size(dtype); }

  // Typed host pointer. Throws std::invalid_argument naming `what` when the dtype is not T's or
  // the data is not on the CPU.
  template <class T>
  T* as(std::string_view what = "tensor") const {
    check(dtype_of_v<T>, Device::cpu, what);
    return static_cast<T*>(data);
  }
  // Throws std::invalid_argument naming `what` unless dtype, device and shape are exactly these.
  void expect(DType want_dtype, const Shape& want_shape, std::string_view what) const;
  void expect(DType want_dtype, Device want_device, const Shape& want_shape, std::string_view what) const;
  // The same data with another shape of equal numel (throws otherwise).
  TensorView reshaped(const Shape& s) const;

 private:
  void check(DType want, Device dev, std::string_view what) const;
};

// Owns an allocation aligned to kAlignment bytes (a cache line and a full AVX-512 vector). Move-only.
class Tensor {
 public:
  static constexpr size_t kAlignment = 64;

  Tensor() noexcept { view_.shape = Shape{0}; }  // empty: numel 0, no data
  // Uninitialised storage. Device::cuda throws (the GPU backend allocates its own).
  Tensor(const Shape& shape, DType dtype, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype);

  const TensorView& view() const noexcept { return view_; }
  operator const TensorView&() const noexcept { return view_; }
  void* data() const noexcept { return view_.data; }
  template <class T>
  T* as(std::string_view what = "tensor") const {
    return view_.as<T>(what);
  }
  const Shape& shape() const noexcept { return view_.shape; }
  DType dtype() const noexcept { return view_.dtype; }
  int64_t numel() const noexcept { return view_.numel(); }
  size_t nbytes() const noexcept { return view_.nbytes(); }
  void fill_zero() noexcept;

 private:
  struct Free {
    void operator()(std::byte* p) const noexcept;
  };
  std::unique_ptr<std::byte, Free> storage_;
  TensorView view_;
};

// A typed aligned buffer for kernels' and models' scratch space (no shape, no dtype tag).
template <class T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(int64_t n) { reserve(n); }
  T* data() const noexcept { return static_cast<T*>(tensor_.data()); }
  int64_t size() const noexcept { return tensor_.numel(); }
  // Grows to at least n elements (contents not kept); never shrinks.
  void reserve(int64_t n) {
    if (n > size()) tensor_ = Tensor(Shape{n}, dtype_of_v<T>);
  }

 private:
  Tensor tensor_;
};

}  // namespace tandem::compute
