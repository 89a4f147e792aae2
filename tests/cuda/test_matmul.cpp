// cuBLASLt products against the double reference on bf16 inputs: all four transpose combinations,
// fp32 and bf16 outputs, with a bias, accumulating (beta = 1) into fp32, on a small odd shape and
// GPT-2's [B*T, C] x [C, 3C] (64 rows of it: the double reference is the slow part).
#include "cuda_test_util.hpp"
#include "tandem/compute/reference/gelu.hpp"
#include "tandem/compute/reference/matmul.hpp"
#include "tandem/cuda/matmul.hpp"

namespace tandem::cuda {
namespace {

template <class T>
class CudaMatmul : public ::testing::Test {};
using Types = ::testing::Types<float, bf16>;
TYPED_TEST_SUITE(CudaMatmul, Types);

TYPED_TEST(CudaMatmul, MatchesReference) {
  using Out = TypeParam;
  TANDEM_REQUIRE_GPU();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  test::Random rng(seed);
  Blas blas;
  struct Shape {
    int64_t m, n, k;
  };
  for (const Shape s : {Shape{37, 50, 24}, Shape{64, 2304, 768}})
    for (Trans ta : {Trans::no, Trans::yes})
      for (Trans tb : {Trans::no, Trans::yes})
        for (bool with_bias : {false, true}) {
          const bool accumulate = std::is_same_v<Out, float> && !with_bias;
          const std::string tag = std::string(test::dtype_name<Out>()) + " out, m=" + std::to_string(s.m) +
                                  " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) +
                                  (ta == Trans::yes ? " a^T" : "") + (tb == Trans::yes ? " b^T" : "") +
                                  (with_bias ? " +bias" : "") + (accumulate ? " beta=1" : "");
          const size_t na = size_t(s.m * s.k), nb = size_t(s.k * s.n), nc = size_t(s.m * s.n);
          const auto a = test::as<bf16>(rng.normal(na));
          const auto b = test::as<bf16>(rng.normal(nb));
          const auto bias = test::as<Out>(rng.normal(size_t(s.n)));
          const auto c0 = test::as<Out>(rng.normal(nc));
          DeviceArray<bf16> d_a(a.host.data(), na), d_b(b.host.data(), nb);
          DeviceArray<Out> d_bias(bias.host.data(), size_t(s.n)), d_c(nc);
          if (accumulate)
            d_c.upload(c0.host.data());
          else
            d_c.poison();  // beta = 0: c is not read, NaN there must not leak through
          const float alpha = 0.75f, beta = accumulate ? 1.0f : 0.0f;
          matmul<Out>(blas, d_a.get(), ta, d_b.get(), tb, d_c.get(), s.m, s.n, s.k, nullptr, alpha, beta,
                      with_bias ? d_bias.get() : nullptr);
          synchronize();
          std::vector<double> c = accumulate ? c0.exact : std::vector<double>(nc, 0.0);
          compute::ref::matmul(a.exact.data(), ta, b.exact.data(), tb, c.data(), s.m, s.n, s.k, double(alpha),
                               double(beta));
          if (with_bias)
            for (int64_t i = 0; i < s.m; ++i)
              for (int64_t j = 0; j < s.n; ++j) c[size_t(i * s.n + j)] += bias.exact[size_t(j)];
          test::expect_close(test::download(d_c), c, test::rel_tol<Out>(), "matmul " + tag);
        }
}

// The epilogues the GPT model uses in bf16 (a residual read in place of the output, GELU forward
// with the pre-activation kept, GELU backward from it), in both output types: in fp32 the
// tolerance is tight enough to tell the tanh approximation from the erf GELU (about 1e-4 apart).
TYPED_TEST(CudaMatmul, EpiloguesMatchReference) {
  using Out = TypeParam;
  TANDEM_REQUIRE_GPU();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  test::Random rng(seed);
  Blas blas;
  struct Shape {
    int64_t m, n, k;
  };
  for (const Shape s : {Shape{37, 56, 24}, Shape{64, 3072, 768}}) {
    const std::string tag = std::string(test::dtype_name<Out>()) + " out, m=" + std::to_string(s.m) +
                            " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k);
    const size_t na = size_t(s.m * s.k), nb = size_t(s.k * s.n), nc = size_t(s.m * s.n);
    const auto a = test::as<bf16>(rng.normal(na, 0.5));
    const auto b = test::as<bf16>(rng.normal(nb, 1.0 / std::sqrt(double(s.k))));
    const auto bias = test::as<Out>(rng.normal(size_t(s.n)));
    const auto addend = test::as<Out>(rng.normal(nc));
    const auto pre = test::as<Out>(rng.normal(nc, 2.0));  // GELU backward's input: its curved part matters
    DeviceArray<bf16> d_a(a.host.data(), na), d_b(b.host.data(), nb);
    DeviceArray<Out> d_bias(bias.host.data(), size_t(s.n)), d_addend(addend.host.data(), nc), d_c(nc), d_aux(nc);
    std::vector<double> product(nc, 0.0);
    compute::ref::matmul(a.exact.data(), Trans::no, b.exact.data(), Trans::no, product.data(), s.m, s.n, s.k, 1.0,
                         0.0);

    // c = a b + 1 * addend + bias; the addend itself is left as it was.
    d_c.poison();
    matmul<Out>(blas, d_a.get(), Trans::no, d_b.get(), Trans::no, d_c.get(), s.m, s.n, s.k, nullptr, 1.0f, 1.0f,
                d_bias.get(), Epilogue{.addend = d_addend.get()});
    synchronize();
    std::vector<double> want(nc);
    for (size_t i = 0; i < nc; ++i) want[i] = product[i] + addend.exact[i] + bias.exact[i % size_t(s.n)];
    test::expect_close(test::download(d_c), want, test::rel_tol<Out>(), "addend " + tag);
    test::expect_close(test::download(d_addend), addend.exact, 0.0, "addend untouched " + tag);

    // aux = a b + bias, c = gelu(aux).
    d_c.poison();
    d_aux.poison();
    matmul<Out>(blas, d_a.get(), Trans::no, d_b.get(), Trans::no, d_c.get(), s.m, s.n, s.k, nullptr, 1.0f, 0.0f,
                d_bias.get(), Epilogue{.gelu = Epilogue::Gelu::forward, .gelu_input = d_aux.get()});
    synchronize();
    std::vector<double> pre_want(nc), gelu_want(nc);
    for (size_t i = 0; i < nc; ++i) {
      pre_want[i] = product[i] + bias.exact[i % size_t(s.n)];
      gelu_want[i] = compute::ref::gelu_scalar(pre_want[i]);
    }
    test::expect_close(test::download(d_aux), pre_want, test::rel_tol<Out>(), "gelu forward pre-activation " + tag);
    test::expect_close(test::download(d_c), gelu_want, test::rel_tol<Out>(), "gelu forward " + tag);

    // c = (a b) gelu'(pre).
    d_c.poison();
    DeviceArray<Out> d_pre(pre.host.data(), nc);
    matmul<Out>(blas, d_a.get(), Trans::no, d_b.get(), Trans::no, d_c.get(), s.m, s.n, s.k, nullptr, 1.0f, 0.0f,
                nullptr, Epilogue{.gelu = Epilogue::Gelu::backward, .gelu_input = d_pre.get()});
    synchronize();
    for (size_t i = 0; i < nc; ++i) want[i] = product[i] * compute::ref::gelu_derivative(pre.exact[i]);
    test::expect_close(test::download(d_c), want, test::rel_tol<Out>(), "gelu backward " + tag);
  }
}

}  // namespace
}  // namespace tandem::cuda
