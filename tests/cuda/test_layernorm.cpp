// LayerNorm forward and backward on the device against the double reference, fp32, bf16, and fp32
// x with bf16 parameters and outputs (the bf16 model's fp32 residual stream); the backward's three
// outputs accumulate into random initial values, as the contract says; row counts span several of
// the parameter gradients' row chunks, and a width that is no multiple of 32.
#include "cuda_test_util.hpp"
#include "tandem/compute/reference/layernorm.hpp"
#include "tandem/cuda/layernorm.hpp"

namespace tandem::cuda {
namespace {

// X: the type of x (the forward's input); T: weight, bias, out, dout and dx.
template <class X_, class T_>
struct Types2 {
  using X = X_;
  using T = T_;
};

template <class P>
class CudaLayerNorm : public ::testing::Test {};
using Types = ::testing::Types<Types2<float, float>, Types2<bf16, bf16>, Types2<float, bf16>>;
TYPED_TEST_SUITE(CudaLayerNorm, Types);

TYPED_TEST(CudaLayerNorm, ForwardAndBackwardMatchReference) {
  using X = typename TypeParam::X;
  using T = typename TypeParam::T;
  TANDEM_REQUIRE_GPU();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  test::Random rng(seed);
  const std::pair<int64_t, int64_t> shapes[] = {{1, 37}, {1000, 768}, {8 * 128 + 3, 1600}};
  for (auto [rows, cols] : shapes) {
    const std::string tag = std::string(test::dtype_name<T>()) + (std::is_same_v<X, T> ? "" : " (fp32 x)") + " [" + std::to_string(rows) + " x " +
                            std::to_string(cols) + "]";
    const size_t n = size_t(rows * cols);
    const auto x = test::as<X>(rng.normal(n, 3.0, 0.5));
    const auto w = test::as<T>(rng.normal(static_cast<size_t>(cols), 0.5, 1.0));
    const auto b = test::as<T>(rng.normal(static_cast<size_t>(cols), 0.5));
    const auto dout = test::as<T>(rng.normal(n));
    const auto dx0 = test::as<T>(rng.normal(n));
    const auto dw0 = test::as<float>(rng.normal(static_cast<size_t>(cols)));
    const auto db0 = test::as<float>(rng.normal(static_cast<size_t>(cols)));

    DeviceArray<X> d_x(x.host.data(), n);
    DeviceArray<T> d_w(w.host.data(), static_cast<size_t>(cols)), d_b(b.host.data(), static_cast<size_t>(cols));
    DeviceArray<T> d_out(n), d_dout(dout.host.data(), n), d_dx(dx0.host.data(), n);
    DeviceArray<float> d_mean(static_cast<size_t>(rows)), d_rstd(static_cast<size_t>(rows));
    DeviceArray<float> d_dw(dw0.host.data(), static_cast<size_t>(cols)), d_db(db0.host.data(), static_cast<size_t>(cols));
    d_out.poison();
    d_mean.poison();
    d_rstd.poison();
    layernorm_forward(d_x.get(), d_w.get(), d_b.get(), d_out.get(), d_mean.get(), d_rstd.get(), rows, cols, nullptr);
    layernorm_backward(d_dout.get(), d_x.get(), d_w.get(), d_mean.get(), d_rstd.get(), d_dx.get(), d_dw.get(),
                       d_db.get(), rows, cols, nullptr);
    synchronize();

    std::vector<double> out(n), mean(static_cast<size_t>(rows)), rstd(static_cast<size_t>(rows));
    compute::ref::layernorm_forward(x.exact.data(), w.exact.data(), b.exact.data(), out.data(), mean.data(),
                                    rstd.data(), rows, cols);
    std::vector<double> dx = dx0.exact, dw = dw0.exact, db = db0.exact;
    compute::ref::layernorm_backward(dout.exact.data(), x.exact.data(), w.exact.data(), mean.data(), rstd.data(),
                                     dx.data(), dw.data(), db.data(), rows, cols);
    test::expect_close(test::download(d_out), out, test::rel_tol<T>(), "layernorm out " + tag);
    test::expect_close(test::download(d_mean), mean, test::rel_tol<float>(), "layernorm mean " + tag);
    test::expect_close(test::download(d_rstd), rstd, test::rel_tol<float>(), "layernorm rstd " + tag);
    test::expect_close(test::download(d_dx), dx, test::rel_tol<T>(), "layernorm dx " + tag);
    // Parameter gradients are fp32 sums of products of (possibly bf16) inputs: fp32 accuracy.
    test::expect_close(test::download(d_dw), dw, 1e-4, "layernorm dweight " + tag);
    test::expect_close(test::download(d_db), db, 1e-4, "layernorm dbias " + tag);
  }
}

}  // namespace
}  // namespace tandem::cuda
