// The optimizer conformance suite; see tandem/conformance/optimizer.hpp for what it checks and how a
// module joins.
#include "tandem/conformance/optimizer.hpp"

#include <gmock/gmock.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "../common/static_module.hpp"  // the host's own parameter binding (host/src)
#include "tandem/registry.hpp"

namespace tandem::test {

std::string factory_name(const ::testing::TestParamInfo<OptimizerFactory>& info) { return info.param.name; }

// Every suite is linked whole into every conformance test (TandemConformance.cmake), and a
// scheduler's test instantiates only the scheduler suite.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OptimizerConformance);

namespace {

using ::testing::HasSubstr;

constexpr int kSteps = 12;
constexpr double kTolerance = 1e-6;

// ---- Test-side bf16, written independently of tandem/dtype.hpp -------------------------------

float widen(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

// The value of a bf16 pattern on the rounding grid, as a double; the pattern after the largest finite
// one (0x7f80, infinity) is taken as 2^128, where the grid would continue, so that rounding to it is
// decided by distance like any other.
double grid_value(uint16_t h) {
  if ((h & 0x7fffu) == 0x7f80u) return (h & 0x8000u) ? -std::ldexp(1.0, 128) : std::ldexp(1.0, 128);
  return static_cast<double>(widen(h));
}

// Round to nearest, ties to even, by comparing distances (not by the bit trick a module would use).
uint16_t reference_bf16(float f) {
  if (std::isnan(f)) return 0;                                                  // callers check NaN separately
  const uint16_t lo = static_cast<uint16_t>(std::bit_cast<uint32_t>(f) >> 16);  // toward zero
  if (std::isinf(f)) return lo;
  const uint16_t hi = static_cast<uint16_t>(lo + 1);  // away from zero
  const double x = static_cast<double>(f);
  const double below = std::fabs(x - grid_value(lo)), above = std::fabs(grid_value(hi) - x);
  if (below < above) return lo;
  if (above < below) return hi;
  return (lo & 1u) ? hi : lo;
}

// ---- Shards, groups and data ---------------------------------------------------------------

// Hyper-parameters of group `g` at step `t`: each group its own, and lr changing every step as a
// scheduler would change it. eps = 1e-3 in group 1 is large enough that putting eps inside the bias
// correction, or inside the square root, changes the update well beyond the tolerance.
sdk::OptimizerHparams group_hparams(size_t g, int64_t t, bool weight_decay) {
  static const sdk::OptimizerHparams kGroups[] = {
      {1e-3, 0.9, 0.999, 1e-8, 0.01},
      {5e-3, 0.8, 0.99, 1e-3, 0.1},
      {2e-2, 0.5, 0.9, 1e-6, 0.05},
  };
  sdk::OptimizerHparams h = kGroups[g % 3];
  h.lr *= 0.5 + 0.05 * static_cast<double>(t);
  if (!weight_decay) h.weight_decay = 0.0;
  return h;
}

struct Range {
  size_t offset, count;
};

// Three groups over [0, n) with one padding element left out between the second and the third
// (n >= 7), or one group for smaller shards.
std::vector<Range> group_ranges(size_t n) {
  if (n < 7) return {{0, n}};
  const size_t a = n * 4 / 10, b = n * 7 / 10;
  return {{0, a}, {a, b - a}, {b + 1, n - b - 1}};
}

bool covered(const std::vector<Range>& ranges, size_t i) {
  for (const Range& r : ranges)
    if (i >= r.offset && i < r.offset + r.count) return true;
  return false;
}

std::vector<tandem_optimizer_group> make_groups(const std::vector<Range>& ranges, int64_t t, bool weight_decay) {
  std::vector<tandem_optimizer_group> out;
  for (size_t g = 0; g < ranges.size(); ++g) {
    const sdk::OptimizerHparams h = group_hparams(g, t, weight_decay);
    tandem_optimizer_group group{};
    group.struct_size = sizeof(group);
    group.offset = ranges[g].offset;
    group.count = ranges[g].count;
    group.hparams =
        tandem_optimizer_hparams{sizeof(tandem_optimizer_hparams), h.lr, h.beta1, h.beta2, h.eps, h.weight_decay};
    out.push_back(group);
  }
  return out;
}

// The data are random but well conditioned on purpose, so that fp32 rounding alone stays far below
// the tolerance while a wrong formula lands far above it: each element keeps one sign for its param
// and all its gradients (no cancellation in m, nor in g + wd*p), |param| starts in [0.5, 1.5] (15
// steps cannot bring it near 0), and |gradient| lies in [0.2, 3.2] (so that eps = 1e-3 still moves
// the update by ~0.5%, 10^4 times the tolerance).
float element_sign(size_t i) { return ((i * 2654435761u) >> 7) & 1u ? -1.0f : 1.0f; }

std::vector<float> random_params(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.5f, 1.5f);
  std::vector<float> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = element_sign(i) * u(rng);
  return p;
}

std::vector<float> random_grads(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> magnitude(-0.7f, 0.5f);
  std::vector<float> g(n);
  for (size_t i = 0; i < n; ++i) g[i] = element_sign(i) * std::pow(10.0f, magnitude(rng));
  return g;
}

std::vector<uint16_t> to_bf16_truncated(const std::vector<float>& g) {
  std::vector<uint16_t> out(g.size());
  for (size_t i = 0; i < g.size(); ++i) out[i] = static_cast<uint16_t>(std::bit_cast<uint32_t>(g[i]) >> 16);
  return out;
}

// ---- Running a module ----------------------------------------------------------------------

struct Optimizer {
  Optimizer(const OptimizerFactory& f, const ReferenceConfig& c, size_t numel)
      : instance(f.descriptor(), c.params_json), client(instance.handle(), instance.vtable<tandem_optimizer_vtable>()) {
    client.init_state(numel);
  }
  StaticInstance instance;
  sdk::OptimizerClient client;
};

struct StepInput {
  int64_t step = 1;
  const void* grads = nullptr;
  tandem_dtype grad_dtype = TANDEM_DTYPE_F32;
  double grad_scale = 1.0;
  const std::vector<tandem_optimizer_group>* groups = nullptr;
  uint16_t* params_bf16 = nullptr;
};

tandem_optimizer_step_args step_args(std::vector<float>& params, const StepInput& in) {
  tandem_optimizer_step_args a{};
  a.struct_size = sizeof(a);
  a.step = in.step;
  a.params = params.data();
  a.grads = in.grads;
  a.grad_dtype = in.grad_dtype;
  a.grad_scale = in.grad_scale;
  a.numel = params.size();
  a.groups = in.groups->data();
  a.group_count = static_cast<uint32_t>(in.groups->size());
  a.params_bf16 = in.params_bf16;
  return a;
}

std::vector<std::vector<float>> copy_state(sdk::OptimizerClient& client) {
  std::vector<std::vector<float>> out;
  for (const auto& b : client.state_buffers()) {
    const std::span<float> s = b.f32();
    out.emplace_back(s.begin(), s.end());
  }
  return out;
}

// Everything one run produces, for bitwise comparisons.
struct Outcome {
  std::vector<float> params;
  std::vector<std::vector<float>> state;
  std::vector<uint16_t> params_bf16;
};

struct Scenario {
  size_t numel = 22;
  bool weight_decay = true;
  tandem_dtype grad_dtype = TANDEM_DTYPE_F32;
  double grad_scale = 1.0;
  bool write_bf16 = false;
  uint64_t seed = 1;
  std::string text() const {
    return "numel=" + std::to_string(numel) + (weight_decay ? " weight_decay" : " no_weight_decay") +
           " grads=" + sdk::dtype_name(grad_dtype) + " grad_scale=" + std::to_string(grad_scale);
  }
};

// Steps [first, last] of a scenario on `opt`, updating `params` (and bf16 when asked).
void run_steps(Optimizer& opt, const Scenario& s, std::vector<float>& params, std::vector<uint16_t>& bf16,
               int64_t first, int64_t last) {
  const std::vector<Range> ranges = group_ranges(params.size());
  for (int64_t t = first; t <= last; ++t) {
    const std::vector<float> g = random_grads(params.size(), s.seed * 1000 + static_cast<uint64_t>(t));
    const std::vector<uint16_t> g16 = to_bf16_truncated(g);
    const std::vector<tandem_optimizer_group> groups = make_groups(ranges, t, s.weight_decay);
    StepInput in;
    in.step = t;
    in.grads = s.grad_dtype == TANDEM_DTYPE_BF16 ? static_cast<const void*>(g16.data()) : g.data();
    in.grad_dtype = s.grad_dtype;
    in.grad_scale = s.grad_scale;
    in.groups = &groups;
    in.params_bf16 = s.write_bf16 ? bf16.data() : nullptr;
    opt.client.step(step_args(params, in));
  }
}

Outcome run_module(const OptimizerFactory& f, const ReferenceConfig& c, const Scenario& s) {
  Optimizer opt(f, c, s.numel);
  Outcome out;
  out.params = random_params(s.numel, s.seed);
  out.params_bf16.assign(s.numel, 0xdeadu);
  run_steps(opt, s, out.params, out.params_bf16, 1, kSteps);
  out.state = copy_state(opt.client);
  return out;
}

// ---- Comparing with the reference ----------------------------------------------------------

// Relative error of `got` against `want` over the covered elements, in the L2 norm and in the max
// norm (each relative to the reference's own norm), both below kTolerance.
void expect_close(const std::vector<float>& got, const std::vector<double>& want, const std::vector<Range>& ranges,
                  const std::string& what) {
  double diff2 = 0, ref2 = 0, diff_max = 0, ref_max = 0;
  size_t worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!covered(ranges, i)) continue;
    const double d = std::fabs(static_cast<double>(got[i]) - want[i]);
    diff2 += d * d;
    ref2 += want[i] * want[i];
    if (d > diff_max) diff_max = d, worst = i;
    ref_max = std::max(ref_max, std::fabs(want[i]));
  }
  ASSERT_GT(ref2, 0.0) << what << ": the reference is all zeros; the test would prove nothing";
  EXPECT_LT(std::sqrt(diff2 / ref2), kTolerance) << what << ": relative L2 error";
  EXPECT_LT(diff_max / ref_max, kTolerance) << what << ": relative max error, worst at element " << worst << ": got "
                                            << got[worst] << ", reference " << want[worst];
}

void check_against_reference(const OptimizerFactory& f, const ReferenceConfig& c, const Scenario& s) {
  SCOPED_TRACE(c.name + " " + s.text());
  const Outcome out = run_module(f, c, s);

  // The reference, in double from the same fp32 start and the same gradient values.
  const std::vector<float> start = random_params(s.numel, s.seed);
  std::vector<double> p(start.begin(), start.end());
  std::vector<std::vector<double>> state(c.state_names.size(), std::vector<double>(s.numel, 0.0));
  const std::vector<Range> ranges = group_ranges(s.numel);
  std::vector<double> st(c.state_names.size());
  for (int64_t t = 1; t <= kSteps; ++t) {
    const std::vector<float> g = random_grads(s.numel, s.seed * 1000 + static_cast<uint64_t>(t));
    const std::vector<uint16_t> g16 = to_bf16_truncated(g);
    for (size_t r = 0; r < ranges.size(); ++r) {
      const sdk::OptimizerHparams h = group_hparams(r, t, s.weight_decay);
      if (c.update_range) {
        const size_t o = ranges[r].offset, n = ranges[r].count;
        std::vector<double> pg(p.begin() + o, p.begin() + o + n), gg(n);
        std::vector<std::vector<double>> sg;
        for (const auto& buffer : state) sg.emplace_back(buffer.begin() + o, buffer.begin() + o + n);
        for (size_t i = 0; i < n; ++i)
          gg[i] = (s.grad_dtype == TANDEM_DTYPE_BF16 ? static_cast<double>(widen(g16[o + i]))
                                                     : static_cast<double>(g[o + i])) *
                  s.grad_scale;
        c.update_range(h, t, pg, gg, sg);
        std::copy(pg.begin(), pg.end(), p.begin() + o);
        for (size_t k = 0; k < state.size(); ++k) std::copy(sg[k].begin(), sg[k].end(), state[k].begin() + o);
        continue;
      }
      for (size_t i = ranges[r].offset; i < ranges[r].offset + ranges[r].count; ++i) {
        const double grad =
            (s.grad_dtype == TANDEM_DTYPE_BF16 ? static_cast<double>(widen(g16[i])) : static_cast<double>(g[i])) *
            s.grad_scale;
        for (size_t k = 0; k < st.size(); ++k) st[k] = state[k][i];
        c.update(h, t, p[i], grad, st);
        for (size_t k = 0; k < st.size(); ++k) state[k][i] = st[k];
      }
    }
  }

  expect_close(out.params, p, ranges, "params");
  ASSERT_EQ(out.state.size(), state.size());
  for (size_t k = 0; k < state.size(); ++k) expect_close(out.state[k], state[k], ranges, c.state_names[k]);
  // Padding: no group covers it, nothing may touch it.
  for (size_t i = 0; i < s.numel; ++i) {
    if (covered(ranges, i)) continue;
    EXPECT_EQ(std::bit_cast<uint32_t>(out.params[i]), std::bit_cast<uint32_t>(start[i])) << "padding param " << i;
    for (size_t k = 0; k < state.size(); ++k) EXPECT_EQ(out.state[k][i], 0.0f) << "padding state " << k << " " << i;
  }
}

void expect_same_bits(const Outcome& a, const Outcome& b, const std::string& what) {
  ASSERT_EQ(a.params.size(), b.params.size()) << what;
  EXPECT_EQ(std::memcmp(a.params.data(), b.params.data(), a.params.size() * sizeof(float)), 0) << what << ": params";
  ASSERT_EQ(a.state.size(), b.state.size()) << what;
  for (size_t k = 0; k < a.state.size(); ++k)
    EXPECT_EQ(std::memcmp(a.state[k].data(), b.state[k].data(), a.state[k].size() * sizeof(float)), 0)
        << what << ": state buffer " << k;
  EXPECT_EQ(a.params_bf16, b.params_bf16) << what << ": bf16 params";
}

// A scenario's step arguments for a check of refusals.
struct ArgsFixture {
  explicit ArgsFixture(size_t n)
      : params(random_params(n, 5)), grads(random_grads(n, 6)), groups(make_groups(group_ranges(n), 1, true)) {}
  tandem_optimizer_step_args args() {
    StepInput in;
    in.grads = grads.data();
    in.groups = &groups;
    return step_args(params, in);
  }
  std::vector<float> params, grads;
  std::vector<tandem_optimizer_group> groups;
};

tandem_status raw_step(Optimizer& opt, const tandem_optimizer_step_args& a, std::string& message) {
  sdk::ErrorBuffer err;
  const tandem_status s = opt.client.vtable()->step(opt.client.instance(), &a, err.get());
  message = err.message();
  return s;
}

}  // namespace

// ---- The tests -----------------------------------------------------------------------------

TEST_P(OptimizerConformance, DeclaresItsCapabilities) {
  const OptimizerFactory& f = GetParam();
  ASSERT_FALSE(f.configs.empty());
  Optimizer opt(f, f.configs[0], 4);
  EXPECT_EQ(opt.client.capabilities(), f.capabilities);
  EXPECT_NE(opt.client.capabilities() & (TANDEM_OPTIMIZER_RUNS_ON_HOST | TANDEM_OPTIMIZER_RUNS_ON_DEVICE), 0u)
      << "an optimizer runs somewhere: on the host, the device, or both";
}

TEST_P(OptimizerConformance, StateBuffersAreNamedZeroedFp32OfTheShardSize) {
  const OptimizerFactory& f = GetParam();
  for (const ReferenceConfig& c : f.configs) {
    SCOPED_TRACE(c.name);
    Optimizer opt(f, c, 37);
    const auto buffers = opt.client.state_buffers();
    ASSERT_EQ(buffers.size(), c.state_names.size());
    for (size_t k = 0; k < buffers.size(); ++k) {
      EXPECT_EQ(buffers[k].name, c.state_names[k]);
      EXPECT_EQ(buffers[k].view.dtype, static_cast<uint32_t>(TANDEM_DTYPE_F32));
      EXPECT_EQ(buffers[k].view.ndim, 1u);
      EXPECT_EQ(buffers[k].view.shape[0], 37);
      if (f.capabilities & TANDEM_OPTIMIZER_RUNS_ON_HOST) {
        EXPECT_EQ(buffers[k].view.device, static_cast<uint32_t>(TANDEM_DEVICE_CPU));
        for (float x : buffers[k].f32()) EXPECT_EQ(std::bit_cast<uint32_t>(x), 0u);
      }
    }
    EXPECT_THROW(opt.client.init_state(37), std::invalid_argument) << "init_state is once per instance";
    EXPECT_THROW(opt.client.state_buffer(static_cast<uint32_t>(buffers.size())), std::invalid_argument);
  }
}

TEST_P(OptimizerConformance, DefaultsComeFromTheParams) {
  const OptimizerFactory& f = GetParam();
  for (const ReferenceConfig& c : f.configs) {
    SCOPED_TRACE(c.name);
    Optimizer opt(f, c, 1);
    const sdk::OptimizerHparams d = opt.client.defaults();
    EXPECT_EQ(d.lr, c.defaults.lr);
    EXPECT_EQ(d.beta1, c.defaults.beta1);
    EXPECT_EQ(d.beta2, c.defaults.beta2);
    EXPECT_EQ(d.eps, c.defaults.eps);
    EXPECT_EQ(d.weight_decay, c.defaults.weight_decay);
  }
}

TEST_P(OptimizerConformance, MatchesTheFloat64Reference) {
  const OptimizerFactory& f = GetParam();
  uint64_t seed = 100;
  for (const ReferenceConfig& c : f.configs)
    for (size_t numel : {size_t{1}, size_t{7}, size_t{22}, size_t{1000}})
      for (bool weight_decay : {true, false})
        for (const auto& [dtype, scale] : {std::pair{TANDEM_DTYPE_F32, 1.0}, std::pair{TANDEM_DTYPE_F32, 0.37},
                                           std::pair{TANDEM_DTYPE_BF16, 1.0}, std::pair{TANDEM_DTYPE_BF16, 2.5}}) {
          Scenario s;
          s.numel = numel;
          s.weight_decay = weight_decay;
          s.grad_dtype = dtype;
          s.grad_scale = scale;
          s.seed = ++seed;
          check_against_reference(f, c, s);
        }
}

TEST_P(OptimizerConformance, Bf16GradientsGiveWhatTheirFp32ValuesGive) {
  // Widening bf16 is exact, so a module may not round differently for bf16 gradients.
  const OptimizerFactory& f = GetParam();
  for (const ReferenceConfig& c : f.configs) {
    SCOPED_TRACE(c.name);
    const size_t n = 1000;
    const std::vector<Range> ranges = group_ranges(n);
    Optimizer a(f, c, n), b(f, c, n);
    std::vector<float> pa = random_params(n, 7), pb = pa;
    for (int64_t t = 1; t <= 5; ++t) {
      const std::vector<uint16_t> g16 = to_bf16_truncated(random_grads(n, 70 + static_cast<uint64_t>(t)));
      std::vector<float> g32(n);
      for (size_t i = 0; i < n; ++i) g32[i] = widen(g16[i]);
      const std::vector<tandem_optimizer_group> groups = make_groups(ranges, t, true);
      StepInput in;
      in.step = t;
      in.groups = &groups;
      in.grad_scale = 0.75;
      in.grads = g16.data();
      in.grad_dtype = TANDEM_DTYPE_BF16;
      a.client.step(step_args(pa, in));
      in.grads = g32.data();
      in.grad_dtype = TANDEM_DTYPE_F32;
      b.client.step(step_args(pb, in));
    }
    expect_same_bits(Outcome{pa, copy_state(a.client), {}}, Outcome{pb, copy_state(b.client), {}}, "bf16 vs fp32");
  }
}

TEST_P(OptimizerConformance, Bf16ParamsAreTheRoundToNearestEvenOfTheFp32Result) {
  const OptimizerFactory& f = GetParam();
  for (const ReferenceConfig& c : f.configs) {
    SCOPED_TRACE(c.name);
    Scenario s;
    s.numel = 1000;
    s.write_bf16 = true;
    const Outcome out = run_module(f, c, s);
    const std::vector<Range> ranges = group_ranges(s.numel);
    size_t checked = 0;
    for (size_t i = 0; i < s.numel; ++i) {
      if (!covered(ranges, i)) {
        EXPECT_EQ(out.params_bf16[i], 0xdeadu) << "padding element " << i << " was written";
        continue;
      }
      ASSERT_EQ(out.params_bf16[i], reference_bf16(out.params[i]))
          << "element " << i << ": fp32 " << out.params[i] << " (bits 0x" << std::hex
          << std::bit_cast<uint32_t>(out.params[i]) << ")";
      ++checked;
    }
    EXPECT_GT(checked, 990u);
    // Without the output pointer, the params are the same (the copy is only a copy).
    Scenario plain = s;
    plain.write_bf16 = false;
    const Outcome without = run_module(f, c, plain);
    EXPECT_EQ(std::memcmp(without.params.data(), out.params.data(), s.numel * sizeof(float)), 0);
  }
}

TEST_P(OptimizerConformance, NaNStaysNaNInTheBf16Copy) {
  const OptimizerFactory& f = GetParam();
  const ReferenceConfig& c = f.configs[0];
  const size_t n = 22;
  Optimizer opt(f, c, n);
  std::vector<float> params = random_params(n, 9);
  params[3] = std::numeric_limits<float>::quiet_NaN();
  // A signalling NaN with only low payload bits: truncating it to 16 bits would give infinity.
  params[4] = std::bit_cast<float>(0x7f800001u);
  const std::vector<float> grads = random_grads(n, 10);
  const std::vector<tandem_optimizer_group> groups = make_groups(group_ranges(n), 1, true);
  std::vector<uint16_t> bf16(n, 0);
  StepInput in;
  in.grads = grads.data();
  in.groups = &groups;
  in.params_bf16 = bf16.data();
  opt.client.step(step_args(params, in));
  EXPECT_TRUE(std::isnan(params[3]));
  EXPECT_TRUE(std::isnan(widen(bf16[3]))) << std::hex << bf16[3];
  EXPECT_TRUE(std::isnan(widen(bf16[4]))) << std::hex << bf16[4];
  // A norm-based rule spreads the NaN over its tensor through the norm, as DeepSpeed's FusedLamb does.
  if (!c.update_range) {
    EXPECT_FALSE(std::isnan(widen(bf16[5])));
  }
}

TEST_P(OptimizerConformance, ResultDoesNotDependOnHowTheShardIsCut) {
  // ZeRO gives each rank a slice; stages 1-3 must equal stage 0 bit for bit (stage.h). Large enough
  // for a parallel module to split the work, cut at an odd place inside a group.
  const OptimizerFactory& f = GetParam();
  if (f.capabilities & TANDEM_OPTIMIZER_NEEDS_WHOLE_MATRICES) GTEST_SKIP() << "needs whole matrices";
  const ReferenceConfig& c = f.configs[0];
  const size_t n = 200003;
  const std::vector<Range> ranges = group_ranges(n);
  const size_t cut = c.update_range ? ranges[1].offset : 12345;  // between groups for a norm-based rule
  Optimizer whole(f, c, n), left(f, c, cut), right(f, c, n - cut);
  std::vector<float> p = random_params(n, 11);
  std::vector<float> pl(p.begin(), p.begin() + cut), pr(p.begin() + cut, p.end());
  std::vector<uint16_t> b(n, 0), bl(cut, 0), br(n - cut, 0);
  for (int64_t t = 1; t <= 3; ++t) {
    const std::vector<float> g = random_grads(n, 110 + static_cast<uint64_t>(t));
    const std::vector<float> gl(g.begin(), g.begin() + cut), gr(g.begin() + cut, g.end());
    const std::vector<tandem_optimizer_group> groups = make_groups(ranges, t, true);
    // The same groups, cut: [0, cut) lies in group 0; the rest shifted by -cut.
    std::vector<tandem_optimizer_group> gleft{groups[0]}, gright = groups;
    ASSERT_LE(cut, groups[0].count);
    gleft[0].count = cut;
    gright[0].count -= cut;
    for (size_t k = 1; k < gright.size(); ++k) gright[k].offset -= cut;
    StepInput in;
    in.step = t;
    in.grad_scale = 0.5;
    in.grads = g.data();
    in.groups = &groups;
    in.params_bf16 = b.data();
    whole.client.step(step_args(p, in));
    in.grads = gl.data();
    in.groups = &gleft;
    in.params_bf16 = bl.data();
    left.client.step(step_args(pl, in));
    in.grads = gr.data();
    in.groups = &gright;
    in.params_bf16 = br.data();
    right.client.step(step_args(pr, in));
  }
  Outcome joined{pl, copy_state(left.client), bl};
  joined.params.insert(joined.params.end(), pr.begin(), pr.end());
  joined.params_bf16.insert(joined.params_bf16.end(), br.begin(), br.end());
  const auto right_state = copy_state(right.client);
  for (size_t k = 0; k < joined.state.size(); ++k)
    joined.state[k].insert(joined.state[k].end(), right_state[k].begin(), right_state[k].end());
  expect_same_bits(Outcome{p, copy_state(whole.client), b}, joined, "whole shard vs two slices");
}

TEST_P(OptimizerConformance, StateRestoredIntoAFreshInstanceContinuesBitForBit) {
  const OptimizerFactory& f = GetParam();
  for (const ReferenceConfig& c : f.configs) {
    SCOPED_TRACE(c.name);
    Scenario s;
    s.numel = 1000;
    s.write_bf16 = true;
    const Outcome straight = run_module(f, c, s);  // steps 1..kSteps in one instance

    Outcome resumed;
    resumed.params = random_params(s.numel, s.seed);
    resumed.params_bf16.assign(s.numel, 0xdeadu);
    std::vector<std::vector<float>> saved;
    {
      Optimizer first(f, c, s.numel);
      run_steps(first, s, resumed.params, resumed.params_bf16, 1, 6);
      saved = copy_state(first.client);  // the checkpoint: the state buffers, copied out
    }
    Optimizer second(f, c, s.numel);
    auto buffers = second.client.state_buffers();
    ASSERT_EQ(buffers.size(), saved.size());
    for (size_t k = 0; k < buffers.size(); ++k) std::copy(saved[k].begin(), saved[k].end(), buffers[k].f32().begin());
    run_steps(second, s, resumed.params, resumed.params_bf16, 7, kSteps);
    resumed.state = copy_state(second.client);
    expect_same_bits(straight, resumed, "saved after step 6 and restored");
  }
}

TEST_P(OptimizerConformance, RefusesInvalidParams) {
  const OptimizerFactory& f = GetParam();
  for (const InvalidParams& bad : f.invalid_params) {
    SCOPED_TRACE(bad.params_json);
    if (bad.by_schema) {
      try {
        StaticInstance instance(f.descriptor(), bad.params_json);
        ADD_FAILURE() << "accepted";
      } catch (const ModuleError& e) {
        EXPECT_THAT(e.what(), HasSubstr(bad.fragment));
      }
    } else {
      try {
        StaticInstance instance(f.descriptor(), bad.params_json);
        ADD_FAILURE() << "accepted";
      } catch (const CreateFailure& e) {
        EXPECT_EQ(e.status, bad.status) << e.what();
        EXPECT_THAT(e.reason, HasSubstr(bad.fragment));
      }
    }
  }
}

TEST_P(OptimizerConformance, RefusesInvalidStepArguments) {
  const OptimizerFactory& f = GetParam();
  const ReferenceConfig& c = f.configs[0];
  const size_t n = 22;
  std::string message;
  {
    StaticInstance instance(f.descriptor(), c.params_json);
    sdk::OptimizerClient client(instance.handle(), instance.vtable<tandem_optimizer_vtable>());
    ArgsFixture x(n);
    sdk::ErrorBuffer err;
    const tandem_optimizer_step_args a = x.args();
    EXPECT_EQ(client.vtable()->step(client.instance(), &a, err.get()), TANDEM_STATUS_INVALID_ARGUMENT);
    EXPECT_THAT(err.message(), HasSubstr("init_state"));
  }
  Optimizer opt(f, c, n);
  const auto refused = [&](const std::string& what,
                           const std::function<void(ArgsFixture&, tandem_optimizer_step_args&)>& spoil,
                           const std::string& fragment) {
    SCOPED_TRACE(what);
    ArgsFixture x(n);
    tandem_optimizer_step_args a = x.args();
    spoil(x, a);
    const std::vector<float> before = x.params;
    EXPECT_EQ(raw_step(opt, a, message), TANDEM_STATUS_INVALID_ARGUMENT);
    EXPECT_THAT(message, HasSubstr(fragment));
    EXPECT_EQ(std::memcmp(before.data(), x.params.data(), n * sizeof(float)), 0) << "a refused step changed params";
  };
  using Spoil = std::function<void(ArgsFixture&, tandem_optimizer_step_args&)>;
  const struct {
    const char* what;
    Spoil spoil;
    const char* fragment;
  } cases[] = {
      {"shard size", [](ArgsFixture&, auto& a) { a.numel = 21; }, "elements"},
      {"step 0", [](ArgsFixture&, auto& a) { a.step = 0; }, "step"},
      {"f16 gradients", [](ArgsFixture&, auto& a) { a.grad_dtype = TANDEM_DTYPE_F16; }, "F16"},
      {"no groups", [](ArgsFixture&, auto& a) { a.group_count = 0; }, "group"},
      {"overlap", [](ArgsFixture& x, auto&) { x.groups[1].offset -= 1, x.groups[1].count += 1; }, "group 1"},
      {"out of order", [](ArgsFixture& x, auto&) { std::swap(x.groups[0], x.groups[1]); }, "group 1"},
      {"past the end", [](ArgsFixture& x, auto&) { x.groups[2].count += 1; }, "outside the shard"},
      {"old struct", [](ArgsFixture&, auto& a) { a.struct_size = 8; }, "struct_size"},
  };
  for (const auto& c : cases) refused(c.what, c.spoil, c.fragment);
  // The state is still all zeros: nothing above reached the update.
  for (const auto& b : opt.client.state_buffers())
    for (float v : b.f32()) ASSERT_EQ(v, 0.0f);
}

}  // namespace tandem::test
