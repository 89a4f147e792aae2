// Shape, TensorView's checks, Tensor's allocation, and ResidentParams's views.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

#include "tandem/compute/param_access.hpp"
#include "tandem/compute/tensor.hpp"

namespace tandem::compute {
namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Shape, CountsAndPrints) {
  const Shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.to_string(), "[2, 3, 4]");
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_TRUE((Shape{2, 3} == Shape{2, 3}));
  EXPECT_FALSE((Shape{2, 3} == Shape{3, 2}));
  EXPECT_NE(message_of([] { Shape{1, -2}; }).find("negative"), std::string::npos);
  EXPECT_NE(message_of([] { Shape{1, 1, 1, 1, 1, 1, 1}; }).find("more than 6"), std::string::npos);
}

TEST(Tensor, AllocatesAlignedAndChecksViews) {
  Tensor t = Tensor::zeros(Shape{3, 5}, DType::f32);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % Tensor::kAlignment, 0u);
  EXPECT_EQ(t.nbytes(), 60u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(t.as<float>()[i], 0.0f);
  EXPECT_NE(message_of([&] { t.as<double>("weights"); }).find("weights: dtype f32, expected f64"), std::string::npos);
  EXPECT_NE(message_of([&] { t.view().expect(DType::f32, Shape{5, 3}, "w"); }).find("w: shape [3, 5], expected [5, 3]"),
            std::string::npos);
  EXPECT_NO_THROW(t.view().expect(DType::f32, Shape{3, 5}, "w"));
  EXPECT_EQ(t.view().reshaped(Shape{15}).shape, Shape{15});
  EXPECT_THROW(t.view().reshaped(Shape{16}), std::invalid_argument);
  EXPECT_NE(message_of([] { Tensor(Shape{4}, DType::f32, Device::cuda); }).find("cuda"), std::string::npos);
  TensorView on_gpu = t.view();
  on_gpu.device = Device::cuda;
  EXPECT_NE(message_of([&] { on_gpu.as<float>("x"); }).find("x: on device cuda, expected cpu"), std::string::npos);
  EXPECT_EQ(Tensor().numel(), 0);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
}

TEST(ResidentParams, HandsOutEachLayersParametersInListOrder) {
  std::vector<ParamInfo> infos = {{"a", Shape{3}, 0, false}, {"b", Shape{2, 2}, 1, false}, {"c", Shape{5}, 0, true}};
  ResidentParams store(infos, DType::f64);
  EXPECT_EQ(store.layer_count(), 2);
  const std::vector<TensorView> l0 = store.acquire(0);
  ASSERT_EQ(l0.size(), 2u);
  EXPECT_EQ(l0[0].shape, Shape{3});
  EXPECT_EQ(l0[1].shape, Shape{5});
  EXPECT_EQ(l0[1].data, store.param(2).data);
  // Every parameter starts on a 64-byte boundary and none overlap.
  for (size_t i = 0; i < infos.size(); ++i) EXPECT_EQ(reinterpret_cast<uintptr_t>(store.param(i).data) % 64, 0u);
  EXPECT_GE(store.offset(1), store.offset(0) + 3);
  EXPECT_GE(store.offset(2), store.offset(1) + 4);
  store.acquire_grads(1)[0].as<double>()[3] = 7.0;
  EXPECT_EQ(store.grad(1).as<double>()[3], 7.0);
  store.zero_grads();
  EXPECT_EQ(store.grad(1).as<double>()[3], 0.0);
  EXPECT_THROW(store.acquire(2), std::invalid_argument);
}

}  // namespace
}  // namespace tandem::compute
