// lamb: DeepSpeed's LAMB on the host (what "type": "Lamb" builds: FusedLamb, deepspeed/ops/lamb/
// fused_lamb.py and csrc/lamb/fused_lamb_cuda_kernel.cu, as of the version that bias-corrects m and v
// themselves, LAMB's Algorithm 2).
//
// For each tensor FusedLamb is given (a unit: see below), with g = grad * grad_scale, in fp32:
//   m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g        (stored)
//   m_hat = m / bc1;  v_hat = v / bc2            bc = 1 - beta^t (1 without bias_correction)
//   denom = sqrt(v_hat) + eps                    (eps_inside_sqrt: sqrt(v_hat + eps))
//   u = m_hat / denom + weight_decay * p         (decay inside the update, under the trust ratio)
//   trust = ||p|| / ||u|| clamped to [min_coeff, max_coeff]; 1 when either norm is 0
//   p = p - (lr * trust) * u
// The norms are over the unit, summed in double in a fixed order (oneTBB's deterministic reduce), so
// the result does not depend on the thread count.
//
// Units: FusedLamb takes each tensor it is handed as one. Without ZeRO DeepSpeed hands it each
// parameter; under ZeRO 1-3 it hands it each group's flat partition on this rank. So a unit is each
// parameter piece the step lists (whole parameters under ZeRO-0), or each group's range when
// `partition_norms` is true (the engine sets it under ZeRO >= 1) or the stage passes no pieces.
//
// State: "exp_avg", "exp_avg_sq" (fp32, one element per shard element).
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_reduce.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/dtype.hpp"
#include "tandem/fork_join_annotation.hpp"
#include "tandem/optimizer.hpp"

namespace {

using tandem::sdk::OptimizerGroup;
using tandem::sdk::OptimizerHparams;
using tandem::sdk::OptimizerStep;

constexpr size_t kGrain = 16 * 1024;

// FusedLamb's constructor (max_grad_norm is refused by DeepSpeed's engine: use gradient_clipping).
const tandem_param_spec kParams[] = {
    tandem::sdk::optional_param("lr", TANDEM_PARAM_FLOAT, "0.001", "learning rate", 0.0),
    tandem::sdk::optional_param("bias_correction", TANDEM_PARAM_BOOL, "true", "divide m and v by 1 - beta^t"),
    tandem::sdk::optional_param("betas", TANDEM_PARAM_FLOAT_PER_GROUP, "[0.9, 0.999]",
                                "[beta1, beta2]: decay rates of the first and second moments, each in [0, 1)", 0.0,
                                1.0),
    tandem::sdk::optional_param("eps", TANDEM_PARAM_FLOAT, "1e-08", "added to sqrt(v_hat) (or inside it)", 0.0),
    tandem::sdk::optional_param("eps_inside_sqrt", TANDEM_PARAM_BOOL, "false",
                                "true: denom = sqrt(v_hat + eps); false: sqrt(v_hat) + eps"),
    tandem::sdk::optional_param("weight_decay", TANDEM_PARAM_FLOAT, "0.0",
                                "added to the update as weight_decay * p, under the trust ratio", 0.0),
    tandem::sdk::optional_param("max_coeff", TANDEM_PARAM_FLOAT, "10.0", "upper clamp of the trust ratio", 0.0),
    tandem::sdk::optional_param("min_coeff", TANDEM_PARAM_FLOAT, "0.01", "lower clamp of the trust ratio", 0.0),
    tandem::sdk::optional_param("amsgrad", TANDEM_PARAM_BOOL, "false", "must be false: FusedLamb has no AMSGrad"),
    tandem::sdk::optional_param("partition_norms", TANDEM_PARAM_BOOL, "false",
                                "norms over each group's range of the shard, not each parameter (set by the engine "
                                "under ZeRO >= 1, where DeepSpeed hands FusedLamb flat partitions)"),
};

std::string text(double x) {
  char buffer[32];
  const auto r = std::to_chars(buffer, buffer + sizeof(buffer), x);
  return std::string(buffer, r.ptr);
}

struct Constants {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, bc1, bc2, eps, decay, grad_scale;
  bool eps_inside_sqrt;
};

inline float load_grad(float g) { return g; }
inline float load_grad(uint16_t g) { return tandem::sdk::bf16_to_float(g); }

// The update direction u of one element from its (already updated) moments.
inline float direction(float m, float v, float p, const Constants& c) {
  const float m_hat = m / c.bc1;
  const float v_hat = v / c.bc2;
  const float denom = c.eps_inside_sqrt ? std::sqrt(v_hat + c.eps) : std::sqrt(v_hat) + c.eps;
  return m_hat / denom + c.decay * p;
}

struct Norms {
  double w2 = 0.0, u2 = 0.0;
};

class Lamb final : public tandem::sdk::Optimizer {
 public:
  explicit Lamb(const tandem::sdk::Params& p)
      : Optimizer({"exp_avg", "exp_avg_sq"}),
        bias_correction_(p.boolean("bias_correction")),
        eps_inside_sqrt_(p.boolean("eps_inside_sqrt")),
        partition_norms_(p.boolean("partition_norms")),
        max_coeff_(p.number("max_coeff")),
        min_coeff_(p.number("min_coeff")) {
    const std::vector<double> betas = p.per_group("betas");
    if (betas.size() != 2)
      throw std::invalid_argument("betas must be [beta1, beta2], two numbers; got " + std::to_string(betas.size()) +
                                  " value" + (betas.size() == 1 ? "" : "s"));
    for (size_t i = 0; i < 2; ++i)
      if (!(betas[i] < 1.0))
        throw std::invalid_argument("betas[" + std::to_string(i) + "] = " + text(betas[i]) +
                                    " must be in [0, 1) (1 - beta^t must not be 0)");
    if (min_coeff_ > max_coeff_)
      throw std::invalid_argument("min_coeff " + text(min_coeff_) + " is above max_coeff " + text(max_coeff_) +
                                  ": the trust ratio is clamped to [min_coeff, max_coeff]");
    if (p.boolean("amsgrad"))
      throw tandem::sdk::Unsupported("amsgrad: true is not supported: DeepSpeed's FusedLamb has no AMSGrad; set it "
                                     "to false");
    defaults_ = OptimizerHparams{p.number("lr"), betas[0], betas[1], p.number("eps"), p.number("weight_decay")};
  }

  uint32_t capabilities() const override { return TANDEM_OPTIMIZER_RUNS_ON_HOST; }
  OptimizerHparams defaults() const override { return defaults_; }

  void step(const OptimizerStep& s) override {
    for (size_t i = 0; i < s.groups.size(); ++i) check(s.groups[i].hparams, i);
    for (const OptimizerGroup& group : s.groups) {
      if (group.count == 0) continue;
      const Constants c = constants(group.hparams, s);
      for (const auto& [begin, end] : units(s, group)) {
        if (s.grads.dtype() == TANDEM_DTYPE_BF16)
          update_unit(s, s.grads.bf16(0, s.params.size()).data(), begin, end, group.hparams.lr, c);
        else
          update_unit(s, s.grads.f32(0, s.params.size()).data(), begin, end, group.hparams.lr, c);
      }
    }
  }

 private:
  Constants constants(const OptimizerHparams& h, const OptimizerStep& s) const {
    const double t = static_cast<double>(s.step);
    const double bc1 = bias_correction_ ? 1.0 - std::pow(h.beta1, t) : 1.0;
    const double bc2 = bias_correction_ ? 1.0 - std::pow(h.beta2, t) : 1.0;
    return Constants{static_cast<float>(h.beta1), static_cast<float>(1.0 - h.beta1), static_cast<float>(h.beta2),
                     static_cast<float>(1.0 - h.beta2), static_cast<float>(bc1), static_cast<float>(bc2),
                     static_cast<float>(h.eps), static_cast<float>(h.weight_decay),
                     static_cast<float>(s.grad_scale), eps_inside_sqrt_};
  }

  // The ranges whose norms give one trust ratio each: the parameter pieces inside the group, and any
  // stretch of the group no piece covers as one more; or the whole group.
  std::vector<std::pair<size_t, size_t>> units(const OptimizerStep& s, const OptimizerGroup& group) const {
    const size_t begin = group.offset, end = group.offset + group.count;
    if (partition_norms_ || s.pieces.empty()) return {{begin, end}};
    std::vector<std::pair<size_t, size_t>> out;
    size_t at = begin;
    for (const tandem::sdk::OptimizerPiece& piece : s.pieces) {
      const size_t pb = std::max(piece.shard_offset, begin), pe = std::min(piece.shard_offset + piece.count, end);
      if (pb >= pe) continue;
      if (pb > at) out.emplace_back(at, pb);
      out.emplace_back(pb, pe);
      at = pe;
    }
    if (at < end) out.emplace_back(at, end);
    return out;
  }

  template <class Grad>
  void update_unit(const OptimizerStep& s, const Grad* grads, size_t begin, size_t end, double lr,
                   const Constants& c) {
    float* const p = s.params.data();
    float* const m = state(0).data();
    float* const v = state(1).data();
    // Pass 1: the moments, and the squared norms of p and u (double, deterministic order).
    const Norms norms = oneapi::tbb::parallel_deterministic_reduce(
        oneapi::tbb::blocked_range<size_t>(begin, end, kGrain), Norms{},
        [&](const oneapi::tbb::blocked_range<size_t>& r, Norms acc) {
          for (size_t i = r.begin(); i < r.end(); ++i) {
            const float g = load_grad(grads[i]) * c.grad_scale;
            const float mi = c.beta1 * m[i] + c.one_minus_beta1 * g;
            const float vi = c.beta2 * v[i] + c.one_minus_beta2 * (g * g);
            m[i] = mi;
            v[i] = vi;
            const float u = direction(mi, vi, p[i], c);
            acc.w2 += static_cast<double>(p[i]) * p[i];
            acc.u2 += static_cast<double>(u) * u;
          }
          return acc;
        },
        [](Norms a, const Norms& b) {
          a.w2 += b.w2;
          a.u2 += b.u2;
          return a;
        });
    const double w = std::sqrt(norms.w2), u = std::sqrt(norms.u2);
    double trust = 1.0;
    if (w != 0.0 && u != 0.0) trust = std::clamp(w / u, min_coeff_, max_coeff_);
    const float step = static_cast<float>(lr * trust);
    // Pass 2: the same u again (the same fp32 operations on the stored moments), applied.
    uint16_t* const p16 = s.params_bf16.empty() ? nullptr : s.params_bf16.data();
    tandem::sdk::ForkJoinAnnotation fork_join;  // ThreadSanitizer builds only
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<size_t>(begin, end, kGrain),
                              [&](const oneapi::tbb::blocked_range<size_t>& r) {
                                tandem::sdk::ForkJoinAnnotation::task_begins();
                                for (size_t i = r.begin(); i < r.end(); ++i) {
                                  const float param = p[i] - step * direction(m[i], v[i], p[i], c);
                                  p[i] = param;
                                  if (p16 != nullptr) p16[i] = tandem::sdk::float_to_bf16(param);
                                }
                                fork_join.task_ends();
                              });
    fork_join.joined();
  }

  static void check(const OptimizerHparams& h, size_t group) {
    const auto fail = [&](const std::string& what) {
      throw std::invalid_argument("lamb step: group " + std::to_string(group) + ": " + what);
    };
    if (!(h.lr >= 0.0) || !std::isfinite(h.lr)) fail("lr must be finite and >= 0, got " + text(h.lr));
    if (!(h.beta1 >= 0.0 && h.beta1 < 1.0)) fail("beta1 must be in [0, 1), got " + text(h.beta1));
    if (!(h.beta2 >= 0.0 && h.beta2 < 1.0)) fail("beta2 must be in [0, 1), got " + text(h.beta2));
    if (!(h.eps >= 0.0) || !std::isfinite(h.eps)) fail("eps must be finite and >= 0, got " + text(h.eps));
    if (!std::isfinite(h.weight_decay)) fail("weight_decay must be finite, got " + text(h.weight_decay));
  }

  bool bias_correction_, eps_inside_sqrt_, partition_norms_;
  double max_coeff_, min_coeff_;
  OptimizerHparams defaults_;
};

}  // namespace

TANDEM_OPTIMIZER_MODULE(lamb, Lamb, "1.0.0",
                        "DeepSpeed's FusedLamb on the host: Adam direction, per-tensor trust ratio, fp32", kParams)
