// The fused GPU Adam against the CPU optimizer's rule (modules/optimizer/common/adam_kernel.hpp,
// this file compiled with -ffp-contract=off as that module is): bit for bit, over several steps,
// for fp32 and bf16 gradients, each decay mode, with and without bias correction, and the bf16
// copy of the parameters written in the same pass.
#include <cstring>

#include "adam_kernel.hpp"
#include "cuda_test_util.hpp"
#include "tandem/cuda/adamw.hpp"

namespace tandem::cuda {
namespace {

template <class Grad, tandem_adamw::Decay kMode>
void cpu_update(size_t n, float* p, const Grad* g, float* m, float* v, uint16_t* p16,
                const tandem_adamw::StepConstants& c) {
  tandem_adamw::update_range<Grad, kMode, true>(n, p, g, m, v, p16, c);
}

template <class Grad>
void cpu_update(size_t n, float* p, const Grad* g, float* m, float* v, uint16_t* p16,
                const tandem_adamw::StepConstants& c) {
  switch (c.mode) {
    case tandem_adamw::Decay::None: return cpu_update<Grad, tandem_adamw::Decay::None>(n, p, g, m, v, p16, c);
    case tandem_adamw::Decay::L2: return cpu_update<Grad, tandem_adamw::Decay::L2>(n, p, g, m, v, p16, c);
    case tandem_adamw::Decay::Decoupled:
      return cpu_update<Grad, tandem_adamw::Decay::Decoupled>(n, p, g, m, v, p16, c);
  }
}

template <class A, class B>
size_t differing_bits(const std::vector<A>& a, const std::vector<B>& b) {
  static_assert(sizeof(A) == sizeof(B));
  size_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) bad += std::memcmp(&a[i], &b[i], sizeof(A)) != 0;
  return bad;
}

template <class T>
class CudaAdam : public ::testing::Test {};
using Types = ::testing::Types<float, bf16>;
TYPED_TEST_SUITE(CudaAdam, Types);

struct Config {
  double weight_decay;
  bool adam_w_mode, bias_correction;
};

TYPED_TEST(CudaAdam, MatchesCpuRuleBitForBit) {
  using G = TypeParam;  // gradient type
  using HostGrad = std::conditional_t<std::is_same_v<G, bf16>, uint16_t, float>;
  TANDEM_REQUIRE_GPU();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  test::Random rng(seed);
  const size_t n = 300007;
  for (const Config& cfg : {Config{0.0, true, true}, Config{0.1, true, true}, Config{0.01, false, true},
                            Config{0.05, true, false}}) {
    const std::string tag = std::string(test::dtype_name<G>()) + " grads, wd " + std::to_string(cfg.weight_decay) +
                            (cfg.adam_w_mode ? " adamw" : " l2") + (cfg.bias_correction ? "" : " no bias correction");
    const auto p0 = test::as<float>(rng.normal(n));
    std::vector<float> p = p0.host, m(n, 0.0f), v(n, 0.0f);
    std::vector<uint16_t> p16(n);
    DeviceArray<float> d_p(p.data(), n), d_m(m.data(), n), d_v(v.data(), n);
    DeviceArray<bf16> d_p16(n);
    DeviceArray<G> d_g(n);
    for (int64_t step = 1; step <= 3; ++step) {
      const auto g = test::as<G>(rng.normal(n, 0.01 * double(step)));
      d_g.upload(g.host.data());
      d_p16.poison();
      const AdamConstants c = make_constants(1e-3 * double(step), 0.9, 0.999, 1e-8, cfg.weight_decay, step,
                                           cfg.bias_correction, cfg.adam_w_mode, step == 2 ? 0.5 : 1.0);
      adam_update(d_p.get(), d_g.get(), d_m.get(), d_v.get(), d_p16.get(), int64_t(n), c, nullptr);
      cpu_update<HostGrad>(n, p.data(), reinterpret_cast<const HostGrad*>(g.host.data()), m.data(), v.data(),
                           p16.data(), c);
    }
    synchronize();
    std::vector<float> gp(n), gm(n), gv(n);
    std::vector<bf16> gp16(n);
    d_p.download(gp.data());
    d_m.download(gm.data());
    d_v.download(gv.data());
    d_p16.download(gp16.data());
    EXPECT_EQ(differing_bits(gp, p), 0u) << tag << ": fp32 parameters";
    EXPECT_EQ(differing_bits(gm, m), 0u) << tag << ": first moments";
    EXPECT_EQ(differing_bits(gv, v), 0u) << tag << ": second moments";
    EXPECT_EQ(differing_bits(gp16, p16), 0u) << tag << ": bf16 parameters";
    // And the update did something: the parameters moved from their start.
    EXPECT_GT(differing_bits(gp, p0.host), n / 2) << tag;
  }
}

}  // namespace
}  // namespace tandem::cuda
