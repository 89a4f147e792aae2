// A linear layer's parameter gradients (tandem/cuda/linear_grad.hpp) against the double reference:
// dweight += x^T dy and dbias += column sums of dy, accumulating into random fp32 values over two
// calls (two backward passes with beta = 1: the bias-gradient epilogue writes, so a missing add, or
// an add of the wrong thing, shows), fp32 and bf16 inputs, a small odd shape and GPT-2's c_attn
// ([rows, 768] x [rows, 2304]). And the epilogue itself: cuBLASLt must offer it for the four
// products of GPT-2's blocks in bf16 (else linear_param_grads falls back to the column sums, and
// the step gains nothing), and it writes the sums over poison without reading them.
#include "cuda_test_util.hpp"
#include "tandem/compute/reference/matmul.hpp"
#include "tandem/cuda/linear_grad.hpp"

namespace tandem::cuda {
namespace {

template <class T>
class CudaLinearGrad : public ::testing::Test {};
using Types = ::testing::Types<float, bf16>;
TYPED_TEST_SUITE(CudaLinearGrad, Types);

TYPED_TEST(CudaLinearGrad, TwoPassesAccumulateWeightAndBiasGradients) {
  using T = TypeParam;
  TANDEM_REQUIRE_GPU();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  test::Random rng(seed);
  Blas blas;
  struct Shape {
    int64_t rows, in, out;
  };
  for (const Shape s : {Shape{37, 24, 50}, Shape{256, 768, 2304}}) {
    const std::string tag = std::string(test::dtype_name<T>()) + " rows=" + std::to_string(s.rows) +
                            " in=" + std::to_string(s.in) + " out=" + std::to_string(s.out);
    const size_t nx = size_t(s.rows * s.in), ndy = size_t(s.rows * s.out), nw = size_t(s.in * s.out);
    // Two passes, each with inputs of its own (two micro-steps), onto random initial gradients.
    const auto x1 = test::as<T>(rng.normal(nx)), x2 = test::as<T>(rng.normal(nx));
    const auto dy1 = test::as<T>(rng.normal(ndy)), dy2 = test::as<T>(rng.normal(ndy, 1.0, 0.3));
    const auto w0 = test::as<float>(rng.normal(nw)), b0 = test::as<float>(rng.normal(size_t(s.out)));
    DeviceArray<T> d_x1(x1.host.data(), nx), d_x2(x2.host.data(), nx), d_dy1(dy1.host.data(), ndy),
        d_dy2(dy2.host.data(), ndy);
    DeviceArray<float> d_w(w0.host.data(), nw), d_b(b0.host.data(), size_t(s.out));
    linear_param_grads(blas, d_x1.get(), d_dy1.get(), d_w.get(), d_b.get(), s.rows, s.in, s.out, nullptr);
    linear_param_grads(blas, d_x2.get(), d_dy2.get(), d_w.get(), d_b.get(), s.rows, s.in, s.out, nullptr);
    synchronize();

    std::vector<double> w = w0.exact, b = b0.exact;
    compute::ref::matmul(x1.exact.data(), Trans::yes, dy1.exact.data(), Trans::no, w.data(), s.in, s.out, s.rows,
                         1.0, 1.0);
    compute::ref::matmul(x2.exact.data(), Trans::yes, dy2.exact.data(), Trans::no, w.data(), s.in, s.out, s.rows,
                         1.0, 1.0);
    compute::ref::column_sum_accumulate(dy1.exact.data(), b.data(), s.rows, s.out);
    compute::ref::column_sum_accumulate(dy2.exact.data(), b.data(), s.rows, s.out);
    // fp32 sums of exact (bf16 or fp32) inputs: fp32 accuracy in both, as the column sums' own test.
    test::expect_close(test::download(d_w), w, 1e-4, "linear dweight, 2 passes " + tag);
    test::expect_close(test::download(d_b), b, 1e-4, "linear dbias, 2 passes " + tag);
  }
}

// GPT-2 small's four weight-gradient products of a block (rows = B*T = 16 * 1024 in training; 1024
// here, the same kernels' shapes but for k) with the bias-gradient epilogue.
TEST(CudaLinearGrad, Gpt2ProductsHaveTheBiasGradientEpilogue) {
  TANDEM_REQUIRE_GPU();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  test::Random rng(seed);
  Blas blas;
  const int64_t rows = 1024, C = 768;
  struct Product {
    const char* name;
    int64_t in, out;
  };
  for (const Product p : {Product{"c_attn", C, 3 * C}, Product{"attn.c_proj", C, C}, Product{"c_fc", C, 4 * C},
                          Product{"mlp.c_proj", 4 * C, C}}) {
    const size_t nx = size_t(rows * p.in), ndy = size_t(rows * p.out), nw = size_t(p.in * p.out);
    const auto x = test::as<bf16>(rng.normal(nx));
    const auto dy = test::as<bf16>(rng.normal(ndy, 1.0, 0.2));
    const auto w0 = test::as<float>(rng.normal(nw));
    DeviceArray<bf16> d_x(x.host.data(), nx), d_dy(dy.host.data(), ndy);
    DeviceArray<float> d_w(w0.host.data(), nw), d_sums(size_t(p.out));
    d_sums.poison();  // written, never read: NaN must not leak through
    Epilogue e;
    e.bias_grad = d_sums.get();
    const bool offered = try_matmul<float>(blas, d_x.get(), Trans::yes, d_dy.get(), Trans::no, d_w.get(), p.in, p.out,
                                           rows, nullptr, 1.0f, 1.0f, nullptr, e);
    ASSERT_TRUE(offered) << p.name << ": cuBLASLt has no algorithm with CUBLASLT_EPILOGUE_BGRADA for it";
    synchronize();
    std::vector<double> sums(size_t(p.out), 0.0);
    compute::ref::column_sum_accumulate(dy.exact.data(), sums.data(), rows, p.out);
    test::expect_close(test::download(d_sums), sums, 1e-4, std::string("bias gradient epilogue ") + p.name);
  }
}

}  // namespace
}  // namespace tandem::cuda
