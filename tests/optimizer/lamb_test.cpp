// lamb: the optimizer conformance suite against a float64 model of DeepSpeed's FusedLamb
// (csrc/lamb/fused_lamb_cuda_kernel.cu), and what the suite's data cannot reach: the trust ratio
// clamped at both ends, a trust ratio per parameter piece over several steps at odd sizes, and the
// group-wide norms the engine asks for under ZeRO.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../common/static_module.hpp"
#include "tandem/conformance/optimizer.hpp"

extern "C" const tandem_module_descriptor* tandem_module_descriptor_lamb(void);

namespace tandem::test {

namespace {

struct LambSettings {
  bool bias_correction = true;
  bool eps_inside_sqrt = false;
  double max_coeff = 10.0, min_coeff = 0.01;
};

// LAMB on one tensor, in double, written from DeepSpeed's kernel: moments, bias-corrected; u =
// m_hat / (sqrt(v_hat) + eps) + wd p; trust = clamp(|p| / |u|) (1 if either is 0); p -= lr trust u.
void lamb_reference(const LambSettings& s, const sdk::OptimizerHparams& h, int64_t step, std::span<double> p,
                    std::span<const double> g, std::span<std::vector<double>> state) {
  std::vector<double>& m = state[0];
  std::vector<double>& v = state[1];
  const double t = static_cast<double>(step);
  const double bc1 = s.bias_correction ? 1.0 - std::pow(h.beta1, t) : 1.0;
  const double bc2 = s.bias_correction ? 1.0 - std::pow(h.beta2, t) : 1.0;
  std::vector<double> u(p.size());
  double w2 = 0, u2 = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * g[i];
    v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * g[i] * g[i];
    const double v_hat = v[i] / bc2;
    const double denom = s.eps_inside_sqrt ? std::sqrt(v_hat + h.eps) : std::sqrt(v_hat) + h.eps;
    u[i] = (m[i] / bc1) / denom + h.weight_decay * p[i];
    w2 += p[i] * p[i];
    u2 += u[i] * u[i];
  }
  double trust = 1.0;
  if (w2 > 0 && u2 > 0) trust = std::clamp(std::sqrt(w2) / std::sqrt(u2), s.min_coeff, s.max_coeff);
  for (size_t i = 0; i < p.size(); ++i) p[i] -= h.lr * trust * u[i];
}

ReferenceConfig lamb_config(bool bias_correction, bool eps_inside_sqrt) {
  ReferenceConfig c;
  c.name = std::string(bias_correction ? "bias_correction" : "no_bias_correction") +
           (eps_inside_sqrt ? "+eps_inside_sqrt" : "");
  c.params_json = std::string(R"({"lr": 0.002, "betas": [0.85, 0.995], "eps": 1e-07, "weight_decay": 0.03,)") +
                  R"( "bias_correction": )" + (bias_correction ? "true" : "false") + R"(, "eps_inside_sqrt": )" +
                  (eps_inside_sqrt ? "true" : "false") + "}";
  c.defaults = sdk::OptimizerHparams{0.002, 0.85, 0.995, 1e-7, 0.03};
  c.state_names = {"exp_avg", "exp_avg_sq"};
  LambSettings s;
  s.bias_correction = bias_correction;
  s.eps_inside_sqrt = eps_inside_sqrt;
  c.update_range = [s](const sdk::OptimizerHparams& h, int64_t step, std::span<double> p, std::span<const double> g,
                       std::span<std::vector<double>> state) { lamb_reference(s, h, step, p, g, state); };
  return c;
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(
    lamb, OptimizerConformance,
    ::testing::Values(OptimizerFactory{
        "lamb",
        &tandem_module_descriptor_lamb,
        TANDEM_OPTIMIZER_RUNS_ON_HOST,
        {lamb_config(true, false), lamb_config(false, false), lamb_config(true, true)},
        {{R"({"betas": [0.9]})", false, TANDEM_STATUS_INVALID_ARGUMENT, "betas must be [beta1, beta2]"},
         {R"({"betas": [0.9, 1.0]})", false, TANDEM_STATUS_INVALID_ARGUMENT, "betas[1]"},
         {R"({"min_coeff": 2.0, "max_coeff": 1.0})", false, TANDEM_STATUS_INVALID_ARGUMENT, "min_coeff"},
         {R"({"amsgrad": true})", false, TANDEM_STATUS_UNSUPPORTED, "amsgrad"},
         {R"({"max_grad_norm": 1.0})", true, TANDEM_STATUS_OK, "unknown parameter 'max_grad_norm'"}}}),
    factory_name);

namespace {

// Steps a Lamb instance over a shard holding several parameters (pieces), odd sizes, against the
// reference applied per piece (or per group with partition_norms).
struct PieceRun {
  std::string params_json;
  LambSettings settings;
  std::vector<size_t> sizes;  // the parameters, in shard order, one group
  double grad_magnitude = 1.0;
  double weight_decay = 0.0;
  bool per_group = false;  // the reference's unit: the group (partition_norms) or each piece
};

// Returns the largest relative error of the params over `steps` steps.
double run_pieces(const PieceRun& r, int steps) {
  size_t n = 0;
  for (size_t s : r.sizes) n += s;
  StaticInstance instance(tandem_module_descriptor_lamb(), r.params_json);
  sdk::OptimizerClient opt(instance.handle(), instance.vtable<tandem_optimizer_vtable>());
  opt.init_state(n);
  std::vector<float> p(n), g(n);
  for (size_t i = 0; i < n; ++i) p[i] = (i % 2 ? -1.0f : 1.0f) * (0.5f + 0.01f * static_cast<float>(i % 37));
  std::vector<double> ref(p.begin(), p.end());
  std::vector<std::vector<double>> state(2, std::vector<double>(n, 0.0));
  std::vector<tandem_optimizer_piece> pieces;
  size_t at = 0;
  for (uint32_t k = 0; k < r.sizes.size(); ++k) {
    tandem_optimizer_piece piece{};
    piece.struct_size = sizeof piece;
    piece.param = k;
    piece.name = "w";
    piece.ndim = 1;
    piece.shape[0] = static_cast<int64_t>(r.sizes[k]);
    piece.shard_offset = at;
    piece.count = r.sizes[k];
    pieces.push_back(piece);
    at += r.sizes[k];
  }
  const sdk::OptimizerHparams h{0.01, 0.9, 0.999, 1e-8, r.weight_decay};
  double worst = 0;
  for (int t = 1; t <= steps; ++t) {
    for (size_t i = 0; i < n; ++i)
      g[i] = static_cast<float>(r.grad_magnitude * ((i * 7 + static_cast<size_t>(t)) % 5 == 0 ? -0.5 : 1.0) *
                                (1.0 + 0.1 * static_cast<double>(i % 3)));
    tandem_optimizer_group group{sizeof(tandem_optimizer_group), 0, n,
                                 {sizeof(tandem_optimizer_hparams), h.lr, h.beta1, h.beta2, h.eps, h.weight_decay}};
    tandem_optimizer_step_args a{};
    a.struct_size = sizeof(a);
    a.step = t;
    a.params = p.data();
    a.grads = g.data();
    a.grad_dtype = TANDEM_DTYPE_F32;
    a.grad_scale = 1.0;
    a.numel = n;
    a.groups = &group;
    a.group_count = 1;
    a.pieces = pieces.data();
    a.piece_count = static_cast<uint32_t>(pieces.size());
    opt.step(a);
    const std::vector<double> gd(g.begin(), g.end());
    const auto apply = [&](size_t o, size_t count) {
      std::vector<std::vector<double>> st{{state[0].begin() + o, state[0].begin() + o + count},
                                          {state[1].begin() + o, state[1].begin() + o + count}};
      lamb_reference(r.settings, h, t, std::span<double>(ref).subspan(o, count),
                     std::span<const double>(gd).subspan(o, count), st);
      std::copy(st[0].begin(), st[0].end(), state[0].begin() + o);
      std::copy(st[1].begin(), st[1].end(), state[1].begin() + o);
    };
    if (r.per_group) {
      apply(0, n);
    } else {
      for (const auto& piece : pieces) apply(piece.shard_offset, piece.count);
    }
    for (size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(p[i] - ref[i]) / std::fabs(ref[i]));
  }
  return worst;
}

TEST(Lamb, TrustRatioPerParameterOverSeveralStepsAtOddSizes) {
  for (double wd : {0.0, 0.05}) {
    PieceRun r;
    r.params_json = R"({"lr": 0.01})";
    r.sizes = {1, 7, 33, 1001};
    r.weight_decay = wd;
    EXPECT_LT(run_pieces(r, 8), 1e-6) << "weight_decay " << wd;
  }
}

// A uniform tiny gradient makes |u| ~ 1 per element while |p| ~ 0.7: trust ~ 0.7 is in range. Large
// parameters against a small update push it above max_coeff; the bounds here put it at both ends.
TEST(Lamb, TrustRatioClampedAtBothEnds) {
  PieceRun high;  // |p| / |u| ~ 0.7, above max_coeff = 0.2: clamped down to 0.2
  high.params_json = R"({"lr": 0.01, "max_coeff": 0.2, "min_coeff": 0.1})";
  high.settings.max_coeff = 0.2;
  high.settings.min_coeff = 0.1;
  high.sizes = {5, 64};
  EXPECT_LT(run_pieces(high, 5), 1e-6);
  PieceRun low;  // ~ 0.7, below min_coeff = 3: clamped up to 3
  low.params_json = R"({"lr": 0.01, "max_coeff": 10.0, "min_coeff": 3.0})";
  low.settings.min_coeff = 3.0;
  low.sizes = {5, 64};
  EXPECT_LT(run_pieces(low, 5), 1e-6);
  // Unclamped with the same data the steps differ: the clamps above were in force.
  PieceRun free_run = low;
  free_run.params_json = R"({"lr": 0.01})";
  free_run.settings = LambSettings{};
  PieceRun wrong = low;  // the module clamped to 3, the reference does not: far apart
  wrong.settings = LambSettings{};
  EXPECT_GT(run_pieces(wrong, 5), 1e-3);
  EXPECT_LT(run_pieces(free_run, 5), 1e-6);
}

TEST(Lamb, PartitionNormsTakeTheWholeGroup) {
  PieceRun r;
  r.params_json = R"({"lr": 0.01, "partition_norms": true})";
  r.sizes = {3, 50, 7};
  r.weight_decay = 0.02;
  r.per_group = true;
  EXPECT_LT(run_pieces(r, 6), 1e-6);
  PieceRun per_piece = r;  // the same module against per-piece norms: not what it computed
  per_piece.per_group = false;
  EXPECT_GT(run_pieces(per_piece, 6), 1e-4);
}

}  // namespace

}  // namespace tandem::test
