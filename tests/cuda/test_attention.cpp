// Causal attention on the device against the double reference: forward (y and lse) and backward
// (dqkv), fp32 and bf16, head sizes 32, 64 and 128, sequence lengths that are no multiple of the
// kernels' 64-row tiles (and one shorter than a tile), and GPT-2's width at 512 tokens.
#include "cuda_test_util.hpp"
#include "tandem/compute/reference/attention.hpp"
#include "tandem/cuda/attention.hpp"

namespace tandem::cuda {
namespace {

template <class T>
class CudaAttention : public ::testing::Test {};
using Types = ::testing::Types<float, bf16>;
TYPED_TEST_SUITE(CudaAttention, Types);

TYPED_TEST(CudaAttention, ForwardAndBackwardMatchReference) {
  using T = TypeParam;
  TANDEM_REQUIRE_GPU();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  test::Random rng(seed);
  struct Shape {
    int64_t B, T, C, H;
  };
  for (const Shape s : {Shape{2, 150, 128, 2}, Shape{1, 37, 96, 3}, Shape{1, 200, 256, 2}, Shape{1, 512, 768, 12}}) {
    const std::string tag = std::string(test::dtype_name<T>()) + " B=" + std::to_string(s.B) +
                            " T=" + std::to_string(s.T) + " C=" + std::to_string(s.C) + " H=" + std::to_string(s.H);
    const size_t n_qkv = static_cast<size_t>(s.B * s.T * 3 * s.C), n_y = static_cast<size_t>(s.B * s.T * s.C);
    const size_t n_lse = static_cast<size_t>(s.B * s.H * s.T);
    const auto qkv = test::as<T>(rng.normal(n_qkv));
    const auto dy = test::as<T>(rng.normal(n_y));
    DeviceArray<T> d_qkv(qkv.host.data(), n_qkv), d_y(n_y), d_dy(dy.host.data(), n_y), d_dqkv(n_qkv);
    DeviceArray<float> d_lse(n_lse);
    d_y.poison();
    d_lse.poison();
    d_dqkv.poison();
    attention_forward(d_qkv.get(), d_y.get(), d_lse.get(), s.B, s.T, s.C, s.H, nullptr);
    attention_backward(d_dy.get(), d_qkv.get(), d_y.get(), d_lse.get(), d_dqkv.get(), s.B, s.T, s.C, s.H, nullptr);
    synchronize();

    std::vector<double> y(n_y), lse(n_lse), dqkv(n_qkv);
    compute::ref::attention_forward(qkv.exact.data(), y.data(), lse.data(), s.B, s.T, s.C, s.H);
    compute::ref::attention_backward(dy.exact.data(), qkv.exact.data(), lse.data(), dqkv.data(), s.B, s.T, s.C, s.H);
    test::expect_close(test::download(d_y), y, test::rel_tol<T>(), "attention y " + tag);
    test::expect_close(test::download(d_lse), lse, test::rel_tol<float>(), "attention lse " + tag);
    test::expect_close(test::download(d_dqkv), dqkv, test::rel_tol<T>(), "attention dqkv " + tag);
  }
}

}  // namespace
}  // namespace tandem::cuda
