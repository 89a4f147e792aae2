// The stage modules driven directly through their C tables, as the engine and a model drive them,
// on a toy model the GPT tests cannot express: three optimizer groups, layers whose parameters
// interleave across groups and are not listed in layer order, sizes that pad for every world size,
// and a parameter that gets two gradient contributions (a tied weight). Gradients are synthetic,
// spread over many orders of magnitude so that any change in the order of a sum would show.
//
// Each stage, with each way of reducing gradients its "reduction" parameter allows (reduce_scatter,
// all_reduce, auto) and small or large buckets, must give ZeRO-0's gradient norms and final weights
// bit for bit; the parameters a layer's views show must be the current weights; and stages 1 and 2
// refuse to be set up without an optimizer, as DeepSpeed does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../common/static_module.hpp"
#include "../common/thread_ranks.hpp"
#include "tandem/stage.h"

extern "C" const tandem_module_descriptor* tandem_module_descriptor_local(void);
extern "C" const tandem_module_descriptor* tandem_module_descriptor_adamw(void);
extern "C" const tandem_module_descriptor* tandem_module_descriptor_zero0(void);
extern "C" const tandem_module_descriptor* tandem_module_descriptor_zero1(void);
extern "C" const tandem_module_descriptor* tandem_module_descriptor_zero2(void);
extern "C" const tandem_module_descriptor* tandem_module_descriptor_zero3(void);

namespace tandem::test {
namespace {

using ::testing::HasSubstr;

const tandem_module_descriptor* stage_descriptor(int stage) {
  switch (stage) {
    case 0: return tandem_module_descriptor_zero0();
    case 1: return tandem_module_descriptor_zero1();
    case 2: return tandem_module_descriptor_zero2();
    default: return tandem_module_descriptor_zero3();
  }
}

// Groups: 0 = 21 + 3 + 11 + 9 = 44, 1 = 5 + 10 = 15, 2 = 16 + 1 = 17 elements. Layer 0 holds "tied".
struct ToyParam {
  const char* name;
  std::vector<int64_t> shape;
  int32_t layer;
  uint32_t group;
};
const std::vector<ToyParam> kToy = {
    {"tied", {7, 3}, 0, 0}, {"bias0", {5}, 0, 1},  {"mat1", {4, 4}, 1, 2}, {"vec2", {3}, 2, 0},
    {"vec1", {11}, 1, 0},   {"mat2", {2, 5}, 2, 1}, {"one3", {1}, 3, 2},   {"vec3", {9}, 3, 0},
};
constexpr int32_t kLayers = 4;
constexpr uint32_t kGroups = 3;

size_t numel_of(const ToyParam& p) {
  size_t n = 1;
  for (int64_t d : p.shape) n *= static_cast<size_t>(d);
  return n;
}

// Values of every magnitude from 1e-6 to 1e3, both signs: sums of them round differently in any
// other order.
float synthetic(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> mantissa(-1.0, 1.0), exponent(-6.0, 3.0);
  return static_cast<float>(mantissa(rng) * std::pow(10.0, exponent(rng)));
}

std::vector<std::vector<float>> initial_weights() {
  std::mt19937_64 rng(4242);
  std::vector<std::vector<float>> w;
  for (const ToyParam& p : kToy) {
    std::vector<float> v(numel_of(p));
    for (float& x : v) x = static_cast<float>(std::uniform_real_distribution<double>(-0.5, 0.5)(rng));
    w.push_back(std::move(v));
  }
  return w;
}

tandem_stage_options options(int64_t bucket) {
  tandem_stage_options o{};
  o.struct_size = sizeof o;
  o.reduce_bucket_size = bucket;
  o.allgather_bucket_size = 500'000'000;
  o.overlap_comm = 1;
  o.contiguous_gradients = 1;
  o.prefetch_bucket_size = 20;          // a layer or so ahead
  o.max_live_parameters = 40;
  o.max_reuse_distance = 1'000'000'000;
  o.param_persistence_threshold = 3;    // vec2 and one3 stay whole
  o.model_persistence_threshold = INT64_MAX;
  return o;
}

// One rank: its stage and optimizer instances, driven as the engine and a model would.
class ToyRank {
 public:
  ToyRank(int stage, const std::string& stage_params, const StaticInstance& comm, int rank, int world,
          const tandem_stage_options& opts, bool with_optimizer)
      : stage_(stage_descriptor(stage), stage_params, "toy.stage"),
        optimizer_(tandem_module_descriptor_adamw(), R"({"lr": 0.01, "weight_decay": 0.1})", "toy.optimizer"),
        vt_(*stage_.vtable<tandem_stage_vtable>()),
        rank_(rank) {
    for (const ToyParam& p : kToy) {
      tandem_model_param m{};
      m.struct_size = sizeof m;
      m.name = p.name;
      m.ndim = static_cast<uint32_t>(p.shape.size());
      std::copy(p.shape.begin(), p.shape.end(), m.shape);
      m.layer = p.layer;
      params_.push_back(m);
      groups_.push_back(p.group);
    }
    tandem_stage_setup s{};
    s.struct_size = sizeof s;
    s.rank = rank;
    s.world_size = world;
    s.local_rank = rank;
    s.params = params_.data();
    s.param_count = static_cast<uint32_t>(params_.size());
    s.layer_count = kLayers;
    s.param_groups = groups_.data();
    s.group_count = kGroups;
    s.comm = comm.handle();
    s.comm_vtable = comm.vtable<tandem_comm_vtable>();
    s.optimizer = with_optimizer ? optimizer_.handle() : nullptr;
    s.optimizer_vtable = optimizer_.vtable<tandem_optimizer_vtable>();
    s.options = opts;
    call([&](tandem_error* e) { return vt_.setup(self(), &s, e); });
  }

  void set_weights(const std::vector<std::vector<float>>& w) {
    for (uint32_t i = 0; i < w.size(); ++i) {
      tandem_tensor_view v = flat_view(const_cast<float*>(w[i].data()), w[i].size());
      call([&](tandem_error* e) { return vt_.set_param(self(), i, &v, e); });
    }
  }
  std::vector<std::vector<float>> weights() {
    std::vector<std::vector<float>> out;
    for (uint32_t i = 0; i < kToy.size(); ++i) {
      out.emplace_back(numel_of(kToy[i]));
      tandem_tensor_view v = flat_view(out.back().data(), out.back().size());
      call([&](tandem_error* e) { return vt_.get_param(self(), i, &v, e); });
    }
    return out;
  }

  // A model's backward as gpt_model.hpp orders it: layer 0 stays acquired throughout and its tied
  // weight gets one contribution first and one last. Checks each acquired view against `current`.
  void backward(int step, int micro, const std::vector<std::vector<float>>& current) {
    const tandem_param_access& a = *vt_.param_access(self());
    std::mt19937_64 rng(1'000'003ull * static_cast<uint64_t>(rank_) + 1009ull * static_cast<uint64_t>(step) +
                        static_cast<uint64_t>(micro));
    auto open = [&](int32_t layer) {
      std::vector<tandem_tensor_view> views(kToy.size()), grads(kToy.size());
      call([&](tandem_error* e) { return a.acquire(a.ctx, layer, views.data(), e); });
      call([&](tandem_error* e) { return a.acquire_grads(a.ctx, layer, grads.data(), e); });
      size_t k = 0;
      for (uint32_t i = 0; i < kToy.size(); ++i)
        if (kToy[i].layer == layer) {
          EXPECT_EQ(std::memcmp(views[k].data, current[i].data(), current[i].size() * sizeof(float)), 0)
              << kToy[i].name << " as acquired is not the current weight";
          ++k;
        }
      return grads;
    };
    auto add = [&](int32_t layer, const std::vector<tandem_tensor_view>& grads) {
      size_t k = 0;
      for (const ToyParam& p : kToy)
        if (p.layer == layer) {
          float* g = static_cast<float*>(grads[k++].data);
          for (size_t j = 0; j < numel_of(p); ++j) g[j] += synthetic(rng);
        }
    };
    const std::vector<tandem_tensor_view> embed = open(0);
    add(0, embed);
    for (int32_t layer = kLayers - 1; layer >= 1; --layer) {
      add(layer, open(layer));
      call([&](tandem_error* e) { return a.grads_done(a.ctx, layer, e); });
      call([&](tandem_error* e) { return a.release(a.ctx, layer, e); });
    }
    add(0, embed);
    call([&](tandem_error* e) { return a.grads_done(a.ctx, 0, e); });
    call([&](tandem_error* e) { return a.release(a.ctx, 0, e); });
    call([&](tandem_error* e) { return vt_.end_backward(self(), e); });
  }

  double norm() {
    double n = 0;
    call([&](tandem_error* e) { return vt_.grad_norm(self(), &n, e); });
    return n;
  }

  // The engine's boundary: clip as DeepSpeed does, then step.
  void step(int64_t step, double norm, double clip) {
    std::vector<tandem_optimizer_hparams> h;
    for (uint32_t g = 0; g < kGroups; ++g)
      h.push_back(tandem_optimizer_hparams{sizeof(tandem_optimizer_hparams), 0.01, 0.9, 0.999, 1e-8, g == 1 ? 0.0 : 0.1});
    tandem_stage_step_args args{};
    args.struct_size = sizeof args;
    args.step = step;
    const double c = (norm + 1e-6) / clip;
    args.grad_scale = c > 1 ? 1.0 / c : 1.0;
    args.group_hparams = h.data();
    args.group_count = kGroups;
    call([&](tandem_error* e) { return vt_.step(self(), &args, e); });
  }

 private:
  void* self() const { return stage_.handle(); }
  template <class Fn>
  static void call(Fn&& fn) {
    sdk::ErrorBuffer err;
    const tandem_status s = fn(err.get());
    if (s != TANDEM_STATUS_OK) sdk::throw_status(s, err.message());
  }
  static tandem_tensor_view flat_view(float* data, size_t n) {
    tandem_tensor_view v{};
    v.struct_size = sizeof v;
    v.dtype = TANDEM_DTYPE_F32;
    v.device = TANDEM_DEVICE_CPU;
    v.data = data;
    v.ndim = 1;
    v.shape[0] = static_cast<int64_t>(n);
    return v;
  }

  StaticInstance stage_;
  StaticInstance optimizer_;
  const tandem_stage_vtable& vt_;
  int rank_;
  std::vector<tandem_model_param> params_;
  std::vector<uint32_t> groups_;
};

struct ToyOutcome {
  std::vector<double> norms;                    // rank 0's, every step
  std::vector<std::vector<float>> weights;      // rank 0's view of the final weights
};

// 3 steps of 2 micro-steps each, clipping at 5 (the synthetic gradients' norm is far larger).
ToyOutcome train_toy(int stage, const std::string& stage_params, int world, int64_t bucket) {
  const StaticInstance comm(tandem_module_descriptor_local(),
                            R"({"world_size": )" + std::to_string(world) + R"(, "timeout_seconds": 30})", "toy.comm");
  ToyOutcome out;
  std::vector<std::vector<double>> norms(static_cast<size_t>(world));
  run_ranks_or_throw(world, [&](int rank) {
    ToyRank r(stage, stage_params, comm, rank, world, options(bucket), true);
    r.set_weights(initial_weights());
    for (int step = 1; step <= 3; ++step) {
      for (int micro = 0; micro < 2; ++micro) {
        const std::vector<std::vector<float>> current = r.weights();  // collective under ZeRO-3
        r.backward(step, micro, current);
      }
      const double n = r.norm();
      norms[static_cast<size_t>(rank)].push_back(n);
      r.step(step, n, 5.0);
    }
    const auto w = r.weights();
    if (rank == 0) out.weights = w;
  });
  for (const auto& n : norms) EXPECT_EQ(n, norms.front()) << "every rank computes the same norm";
  out.norms = norms.front();
  return out;
}

using DirectParam = std::tuple<int /*stage*/, int /*world*/, std::string /*reduction*/, int64_t /*bucket*/>;

class StageDirect : public ::testing::TestWithParam<DirectParam> {};

TEST_P(StageDirect, MatchesZeroZeroBitForBit) {
  const auto& [stage, world, reduction, bucket] = GetParam();
  const ToyOutcome reference = train_toy(0, "{}", world, bucket);
  const ToyOutcome partitioned = train_toy(stage, R"({"reduction": ")" + reduction + R"("})", world, bucket);
  ASSERT_EQ(reference.norms.size(), 3u);
  for (double n : reference.norms) EXPECT_GT(n, 5.0) << "the steps must clip";
  EXPECT_EQ(partitioned.norms, reference.norms);
  ASSERT_EQ(partitioned.weights.size(), reference.weights.size());
  for (size_t i = 0; i < reference.weights.size(); ++i) {
    EXPECT_EQ(std::memcmp(partitioned.weights[i].data(), reference.weights[i].data(),
                          reference.weights[i].size() * sizeof(float)),
              0)
        << kToy[i].name;
    EXPECT_NE(reference.weights[i], initial_weights()[i]) << kToy[i].name << " never moved";
  }
}

INSTANTIATE_TEST_SUITE_P(Reductions, StageDirect,
                         ::testing::Combine(::testing::Values(1, 2, 3), ::testing::Values(2, 3, 4),
                                            ::testing::Values("auto", "reduce_scatter", "all_reduce"),
                                            ::testing::Values(int64_t{1}, int64_t{1000})),
                         [](const ::testing::TestParamInfo<DirectParam>& info) {
                           return "zero" + std::to_string(std::get<0>(info.param)) + "_world" +
                                  std::to_string(std::get<1>(info.param)) + "_" + std::get<2>(info.param) +
                                  "_bucket" + std::to_string(std::get<3>(info.param));
                         });

TEST(StageDirect, StagesOneAndTwoRefuseToRunWithoutAnOptimizer) {
  const StaticInstance comm(tandem_module_descriptor_local(), R"({"world_size": 1})", "toy.comm");
  for (int stage : {1, 2}) {
    try {
      ToyRank r(stage, "{}", comm, 0, 1, options(1000), /*with_optimizer=*/false);
      FAIL() << "stage " << stage << " was set up without an optimizer";
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), HasSubstr("ZeRO stage " + std::to_string(stage) + " requires an optimizer"));
    }
  }
}

TEST(StageDirect, ZeroThreeWithoutAnOptimizerGathersButHasNoGradients) {
  const StaticInstance comm(tandem_module_descriptor_local(), R"({"world_size": 2})", "toy.comm");
  const RankResults results = run_ranks(2, [&](int rank) {
    ToyRank r(3, "{}", comm, rank, 2, options(1000), /*with_optimizer=*/false);
    r.set_weights(initial_weights());
    EXPECT_EQ(r.weights(), initial_weights());
    r.backward(1, 0, initial_weights());  // acquire works; acquire_grads must refuse
  });
  for (int rank = 0; rank < 2; ++rank)
    EXPECT_THAT(results.message(rank), HasSubstr("without an optimizer")) << "rank " << rank;
}

TEST(StageDirect, TheReductionParameterIsChecked) {
  EXPECT_THROW(StaticInstance(tandem_module_descriptor_zero2(), R"({"reduction": "broadcast"})"), ModuleError);
}

}  // namespace
}  // namespace tandem::test
