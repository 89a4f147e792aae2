// cpu_adamw: joins the optimizer conformance suite once per SIMD path this CPU has (each forced with
// the "simd" param) and once with tiny tiles (so that groups straddle tiles); then what is particular
// to the module: a shard of 1000003 elements on every path against the float64 reference and bit
// for bit against the other paths and against adamw, the bf16 copy, the refusal of a path the CPU
// lacks, and the tile hooks (each tile once, in shard order per worker, after the tile is written).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <oneapi/tbb/task_arena.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../modules/optimizer/cpu_adamw/cpu_adamw.hpp"
#include "../common/static_module.hpp"
#include "adam_family.hpp"

extern "C" const tandem_module_descriptor* tandem_module_descriptor_cpu_adamw(void);
extern "C" const tandem_module_descriptor* tandem_module_descriptor_adamw(void);

namespace tandem::test {

namespace {

using tandem_cpu_adamw::CpuAdamW;
using tandem_cpu_adamw::Simd;
using ::testing::HasSubstr;

const Simd kAllPaths[] = {Simd::Avx512, Simd::Avx2, Simd::Portable};

// `params_json` (an object) with `extra` ("\"key\": value") added first.
std::string with_param(const std::string& params_json, const std::string& extra) {
  const size_t open = params_json.find('{');
  const bool empty = params_json.find_first_not_of(" \t\n", open + 1) == params_json.find('}', open);
  return params_json.substr(0, open + 1) + extra + (empty ? "" : ", ") + params_json.substr(open + 1);
}

OptimizerFactory cpu_factory(const std::string& name, const std::string& extra) {
  OptimizerFactory f = adam_family(name, &tandem_module_descriptor_cpu_adamw,
                                   TANDEM_OPTIMIZER_RUNS_ON_HOST | TANDEM_OPTIMIZER_CALLS_TILE_HOOKS);
  if (!extra.empty())
    for (ReferenceConfig& c : f.configs) c.params_json = with_param(c.params_json, extra);
  f.invalid_params.push_back({R"({"simd": "sse"})", true, TANDEM_STATUS_OK, "simd"});
  f.invalid_params.push_back({R"({"tile_elements": 0})", true, TANDEM_STATUS_OK, "tile_elements"});
  return f;
}

// "auto", every path this CPU can run, forced, and tiles of 3 elements.
std::vector<OptimizerFactory> cpu_adamw_factories() {
  std::vector<OptimizerFactory> out{cpu_factory("cpu_adamw", "")};
  for (Simd s : kAllPaths)
    if (tandem_cpu_adamw::simd_supported(s))
      out.push_back(cpu_factory(std::string("cpu_adamw_") + tandem_cpu_adamw::simd_name(s),
                                std::string(R"("simd": ")") + tandem_cpu_adamw::simd_name(s) + "\""));
  out.push_back(cpu_factory("cpu_adamw_tiles3", R"("tile_elements": 3)"));
  return out;
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(cpu_adamw, OptimizerConformance, ::testing::ValuesIn(cpu_adamw_factories()), factory_name);

namespace {

struct Result {
  std::vector<float> p, m, v;
  std::vector<uint16_t> p16;
};

// `steps` steps over `n` elements in two groups (the second without weight decay) with the last
// element as padding, random data from `seed`; bf16 gradients when `bf16_grads`.
Result run(const tandem_module_descriptor* descriptor, const std::string& params_json, size_t n, int steps,
           bool bf16_grads, uint64_t seed, const tandem_cpu_adamw::TileHooks* hooks = nullptr) {
  StaticInstance instance(descriptor, params_json);
  if (hooks != nullptr) static_cast<CpuAdamW*>(instance.handle())->set_tile_hooks(*hooks);
  sdk::OptimizerClient opt(instance.handle(), instance.vtable<tandem_optimizer_vtable>());
  opt.init_state(n);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Result r;
  r.p.resize(n);
  r.p16.assign(n, 0);
  for (float& x : r.p) x = u(rng);
  std::vector<float> g32(n);
  std::vector<uint16_t> g16(n);
  const size_t split = n / 2 + 1, covered = n > 1 ? n - 1 : n;
  for (int t = 1; t <= steps; ++t) {
    for (size_t i = 0; i < n; ++i) {
      g32[i] = u(rng) * 0.1f;
      g16[i] = sdk::float_to_bf16(g32[i]);
    }
    const double lr = 1e-3 * (1.0 + 0.1 * t);
    std::vector<tandem_optimizer_group> groups;
    groups.push_back({sizeof(tandem_optimizer_group), 0, std::min(split, covered),
                      {sizeof(tandem_optimizer_hparams), lr, 0.9, 0.999, 1e-8, 0.01}});
    if (covered > split)
      groups.push_back({sizeof(tandem_optimizer_group), split, covered - split,
                        {sizeof(tandem_optimizer_hparams), 2 * lr, 0.8, 0.99, 1e-6, 0.0}});
    tandem_optimizer_step_args a{};
    a.struct_size = sizeof(a);
    a.step = t;
    a.params = r.p.data();
    a.grads = bf16_grads ? static_cast<const void*>(g16.data()) : static_cast<const void*>(g32.data());
    a.grad_dtype = bf16_grads ? TANDEM_DTYPE_BF16 : TANDEM_DTYPE_F32;
    a.grad_scale = 0.5;
    a.numel = n;
    a.groups = groups.data();
    a.group_count = static_cast<uint32_t>(groups.size());
    a.params_bf16 = r.p16.data();
    opt.step(a);
  }
  const auto buffers = opt.state_buffers();
  r.m.assign(buffers[0].f32().begin(), buffers[0].f32().end());
  r.v.assign(buffers[1].f32().begin(), buffers[1].f32().end());
  return r;
}

// The same run in float64 with the Adam family's reference (adamw mode + bias correction).
Result reference(size_t n, int steps, bool bf16_grads, uint64_t seed, std::vector<double>& p) {
  const ReferenceConfig config = adam_family_configs()[0];
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  p.resize(n);
  for (double& x : p) x = u(rng);
  std::vector<double> m(n, 0.0), v(n, 0.0);
  const size_t split = n / 2 + 1, covered = n > 1 ? n - 1 : n;
  for (int t = 1; t <= steps; ++t) {
    const double lr = 1e-3 * (1.0 + 0.1 * t);
    for (size_t i = 0; i < n; ++i) {
      const float g32 = u(rng) * 0.1f;
      const double g = (bf16_grads ? static_cast<double>(sdk::bf16_to_float(sdk::float_to_bf16(g32))) : g32) * 0.5;
      if (i >= covered) continue;
      const sdk::OptimizerHparams h = i < split ? sdk::OptimizerHparams{lr, 0.9, 0.999, 1e-8, 0.01}
                                                : sdk::OptimizerHparams{2 * lr, 0.8, 0.99, 1e-6, 0.0};
      double state[2] = {m[i], v[i]};
      config.update(h, t, p[i], g, state);
      m[i] = state[0];
      v[i] = state[1];
    }
  }
  Result out;
  for (size_t i = 0; i < n; ++i) {
    out.m.push_back(static_cast<float>(m[i]));
    out.v.push_back(static_cast<float>(v[i]));
  }
  return out;
}

// Relative error in the max norm.
double relative_error(const std::vector<float>& got, const std::vector<double>& want) {
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  return scale > 0.0 ? diff / scale : diff;
}

std::vector<double> widen(const std::vector<float>& x) { return {x.begin(), x.end()}; }

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

std::string forced(Simd s) { return std::string(R"({"simd": ")") + tandem_cpu_adamw::simd_name(s) + "\"}"; }

TEST(CpuAdamW, DescriptorAndSchemaExtendAdamws) {
  const tandem_module_descriptor* d = tandem_module_descriptor_cpu_adamw();
  const tandem_module_descriptor* a = tandem_module_descriptor_adamw();
  EXPECT_STREQ(d->name, "cpu_adamw");
  ASSERT_EQ(d->param_count, a->param_count + 2);
  for (uint32_t i = 0; i < a->param_count; ++i) EXPECT_STREQ(d->params[i].name, a->params[i].name);
  EXPECT_STREQ(d->params[a->param_count].name, "simd");
  EXPECT_STREQ(d->params[a->param_count + 1].name, "tile_elements");
}

TEST(CpuAdamW, AutoPicksTheWidestPathTheCpuHas) {
  StaticInstance instance(tandem_module_descriptor_cpu_adamw(), "{}");
  const Simd picked = static_cast<CpuAdamW*>(instance.handle())->simd();
  EXPECT_EQ(picked, tandem_cpu_adamw::best_simd());
  for (Simd s : kAllPaths) {
    if (s == picked) break;
    EXPECT_FALSE(tandem_cpu_adamw::simd_supported(s)) << tandem_cpu_adamw::simd_name(s);
  }
  EXPECT_TRUE(tandem_cpu_adamw::simd_supported(Simd::Portable));
}

TEST(CpuAdamW, APathTheCpuLacksIsRefusedAndASupportedOneIsUsed) {
  for (Simd s : kAllPaths) {
    SCOPED_TRACE(tandem_cpu_adamw::simd_name(s));
    if (tandem_cpu_adamw::simd_supported(s)) {
      StaticInstance instance(tandem_module_descriptor_cpu_adamw(), forced(s));
      EXPECT_EQ(static_cast<CpuAdamW*>(instance.handle())->simd(), s);
    } else {
      try {
        StaticInstance instance(tandem_module_descriptor_cpu_adamw(), forced(s));
        ADD_FAILURE() << "accepted a path this CPU lacks";
      } catch (const CreateFailure& e) {
        EXPECT_EQ(e.status, TANDEM_STATUS_UNSUPPORTED);
        EXPECT_THAT(e.reason, HasSubstr("does not support it"));
      }
    }
  }
}

// 1000003 elements (odd: every path runs its scalar tail), several tiles, two groups, padding.
TEST(CpuAdamW, EveryPathMatchesTheFloat64ReferenceAndTheOtherPathsBitForBit) {
  constexpr size_t kN = 1000003;
  constexpr int kStepCount = 3;
  for (bool bf16_grads : {false, true}) {
    SCOPED_TRACE(bf16_grads ? "bf16 gradients" : "fp32 gradients");
    std::vector<double> ref_p;
    const Result ref = reference(kN, kStepCount, bf16_grads, 7, ref_p);
    const Result adamw = run(tandem_module_descriptor_adamw(), "{}", kN, kStepCount, bf16_grads, 7);
    for (Simd s : kAllPaths) {
      if (!tandem_cpu_adamw::simd_supported(s)) continue;
      SCOPED_TRACE(tandem_cpu_adamw::simd_name(s));
      const Result r = run(tandem_module_descriptor_cpu_adamw(), forced(s), kN, kStepCount, bf16_grads, 7);
      EXPECT_LT(relative_error(r.p, ref_p), 1e-6);
      EXPECT_LT(relative_error(r.m, widen(ref.m)), 1e-6);
      EXPECT_LT(relative_error(r.v, widen(ref.v)), 1e-6);
      EXPECT_TRUE(same_bits(r.p, adamw.p));
      EXPECT_TRUE(same_bits(r.m, adamw.m));
      EXPECT_TRUE(same_bits(r.v, adamw.v));
      size_t mismatches = 0;
      for (size_t i = 0; i + 1 < kN; ++i) mismatches += r.p16[i] != sdk::float_to_bf16(r.p[i]);
      EXPECT_EQ(mismatches, 0u);
      EXPECT_EQ(r.p16[kN - 1], 0u) << "the padding element's bf16 copy was written";
    }
  }
}

TEST(CpuAdamW, TileHooksSeeEachTileOnceInShardOrderPerWorkerAfterItIsWritten) {
  constexpr size_t kN = 100001;  // groups [0, 50001) and [50001, 100000), padding 100000
  constexpr size_t kTile = 1000;
  struct Event {
    std::thread::id thread;
    tandem_cpu_adamw::Tile tile;
    bool after;
  };
  std::mutex mutex;
  std::vector<Event> events;
  std::vector<float> device(kN, 0.0f);  // what a copy engine would have sent, tile by tile
  const float* params = nullptr;
  tandem_cpu_adamw::TileHooks hooks;
  hooks.before = [&](const tandem_cpu_adamw::Tile& t) {
    std::lock_guard lock(mutex);
    events.push_back({std::this_thread::get_id(), t, false});
  };
  hooks.after = [&](const tandem_cpu_adamw::Tile& t) {
    std::memcpy(device.data() + t.offset, params + t.offset, t.count * sizeof(float));
    std::lock_guard lock(mutex);
    events.push_back({std::this_thread::get_id(), t, true});
  };

  StaticInstance instance(tandem_module_descriptor_cpu_adamw(), R"({"tile_elements": 1000})");
  auto& opt_class = *static_cast<CpuAdamW*>(instance.handle());
  opt_class.set_tile_hooks(hooks);
  sdk::OptimizerClient opt(instance.handle(), instance.vtable<tandem_optimizer_vtable>());
  opt.init_state(kN);
  std::vector<float> p(kN), g(kN);
  for (size_t i = 0; i < kN; ++i) {
    p[i] = 0.001f * static_cast<float>(i % 997);
    g[i] = 0.01f * static_cast<float>(i % 31) - 0.15f;
  }
  params = p.data();
  const tandem_optimizer_group groups[] = {
      {sizeof(tandem_optimizer_group), 0, 50001, {sizeof(tandem_optimizer_hparams), 1e-3, 0.9, 0.999, 1e-8, 0.0}},
      {sizeof(tandem_optimizer_group), 50001, 49999, {sizeof(tandem_optimizer_hparams), 1e-3, 0.9, 0.999, 1e-8, 0.0}}};
  tandem_optimizer_step_args a{};
  a.struct_size = sizeof(a);
  a.step = 1;
  a.params = p.data();
  a.grads = g.data();
  a.grad_dtype = TANDEM_DTYPE_F32;
  a.grad_scale = 1.0;
  a.numel = kN;
  a.groups = groups;
  a.group_count = 2;
  oneapi::tbb::task_arena arena(2);  // two workers (this machine may have no more)
  arena.execute([&] { opt.step(a); });

  // The expected tiles: cut at multiples of 1000 in shard coordinates, and at the group boundary.
  std::vector<tandem_cpu_adamw::Tile> expected;
  for (size_t gi = 0; gi < 2; ++gi)
    for (size_t b = groups[gi].offset, e = b + groups[gi].count; b < e;) {
      const size_t end = std::min(e, (b / kTile + 1) * kTile);
      expected.push_back({expected.size(), gi, b, end - b});
      b = end;
    }
  ASSERT_EQ(events.size(), 2 * expected.size());
  std::vector<int> before(expected.size(), 0), after(expected.size(), 0);
  std::map<std::thread::id, size_t> last;  // per worker: 1 + the last tile index it began
  std::map<std::thread::id, bool> open;    // per worker: a tile begun and not finished
  for (const Event& e : events) {
    ASSERT_LT(e.tile.index, expected.size());
    const tandem_cpu_adamw::Tile& x = expected[e.tile.index];
    EXPECT_EQ(e.tile.group, x.group);
    EXPECT_EQ(e.tile.offset, x.offset);
    EXPECT_EQ(e.tile.count, x.count);
    if (!e.after) {
      ++before[e.tile.index];
      EXPECT_FALSE(open[e.thread]);
      EXPECT_GT(e.tile.index + 1, last[e.thread]) << "a worker went back in shard order";
      last[e.thread] = e.tile.index + 1;
      open[e.thread] = true;
    } else {
      ++after[e.tile.index];
      EXPECT_TRUE(open[e.thread]);
      EXPECT_EQ(last[e.thread], e.tile.index + 1) << "after() on another worker than before()";
      open[e.thread] = false;
    }
  }
  for (size_t k = 0; k < expected.size(); ++k) {
    EXPECT_EQ(before[k], 1) << "tile " << k;
    EXPECT_EQ(after[k], 1) << "tile " << k;
  }
  // after() saw each tile's final params: the "device" copy equals the result, padding aside.
  EXPECT_EQ(0, std::memcmp(device.data(), p.data(), (kN - 1) * sizeof(float)));
  EXPECT_EQ(device[kN - 1], 0.0f);
}

TEST(CpuAdamW, AnExceptionFromAHookReachesTheCaller) {
  StaticInstance instance(tandem_module_descriptor_cpu_adamw(), R"({"tile_elements": 16})");
  tandem_cpu_adamw::TileHooks hooks;
  hooks.after = [](const tandem_cpu_adamw::Tile& t) {
    if (t.index == 3) throw std::runtime_error("copy engine failed on tile 3");
  };
  static_cast<CpuAdamW*>(instance.handle())->set_tile_hooks(hooks);
  sdk::OptimizerClient opt(instance.handle(), instance.vtable<tandem_optimizer_vtable>());
  opt.init_state(100);
  std::vector<float> p(100, 1.0f), g(100, 0.5f);
  const tandem_optimizer_group group{
      sizeof(tandem_optimizer_group), 0, 100, {sizeof(tandem_optimizer_hparams), 1e-3, 0.9, 0.999, 1e-8, 0.0}};
  tandem_optimizer_step_args a{};
  a.struct_size = sizeof(a);
  a.step = 1;
  a.params = p.data();
  a.grads = g.data();
  a.grad_dtype = TANDEM_DTYPE_F32;
  a.grad_scale = 1.0;
  a.numel = 100;
  a.groups = &group;
  a.group_count = 1;
  try {
    opt.step(a);
    FAIL() << "the hook's failure was lost";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), HasSubstr("copy engine failed on tile 3"));
  }
}

}  // namespace
}  // namespace tandem::test
