// An independent reference of the Llama / Qwen2 forward in double, written from transformers'
// modeling_llama.py line by line (not from the module's code or the compute kernels): embedding
// lookup; LlamaRMSNorm; q/k/v nn.Linear (W [out, in]); cos/sin as cat(freqs, freqs) and
// q * cos + rotate_half(q) * sin; repeat_kv; softmax(q k^T / sqrt(hd) + causal mask) v; o_proj;
// down(silu(gate(x)) * up(x)); the final norm and the (tied or untied) head. It stands in for
// transformers itself where transformers is not installed (this machine, CI): tools/check/
// hf_llama_check.py compares with transformers on the GPU machine.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tandem::llama::test {

struct RefConfig {
  bool qwen2 = false;
  int64_t C = 0, I = 0, L = 0, H = 0, KV = 0, hd = 0, V = 0;
  double eps = 1e-6, theta = 10000.0;
  bool tied = false, attention_bias = false;
};

using Weights = std::map<std::string, std::vector<double>>;  // Hugging Face name -> values

// logits [B * T, V] for tokens [B, T].
inline std::vector<double> reference_logits(const RefConfig& c, const Weights& w, const std::vector<int32_t>& tokens,
                                            int64_t B, int64_t T) {
  auto W = [&](const std::string& name) -> const std::vector<double>& { return w.at(name); };
  auto has = [&](const std::string& name) { return w.count(name) != 0; };
  // y[n, out] = x[n, in] W^T + b
  auto linear = [](const std::vector<double>& x, const std::vector<double>& Wt, const std::vector<double>* b,
                   int64_t n, int64_t in, int64_t out) {
    std::vector<double> y(static_cast<size_t>(n * out));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t o = 0; o < out; ++o) {
        double s = b ? (*b)[o] : 0.0;
        for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * Wt[o * in + i];
        y[r * out + o] = s;
      }
    return y;
  };
  auto rmsnorm = [&](const std::vector<double>& x, const std::vector<double>& g, int64_t n) {
    std::vector<double> y(x.size());
    for (int64_t r = 0; r < n; ++r) {
      double var = 0;
      for (int64_t i = 0; i < c.C; ++i) var += x[r * c.C + i] * x[r * c.C + i];
      var /= double(c.C);
      const double inv = 1.0 / std::sqrt(var + c.eps);
      for (int64_t i = 0; i < c.C; ++i) y[r * c.C + i] = g[i] * (x[r * c.C + i] * inv);
    }
    return y;
  };
  // LlamaRotaryEmbedding (default): inv_freq in float32, freqs = t * inv_freq in float32, emb = cat(freqs, freqs).
  std::vector<double> cosv(static_cast<size_t>(T * c.hd)), sinv(cosv.size());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < c.hd; ++j) {
      const int64_t i = j % (c.hd / 2);
      const float inv_freq = 1.0f / std::pow(static_cast<float>(c.theta), static_cast<float>(2 * i) / float(c.hd));
      const float f = static_cast<float>(t) * inv_freq;
      cosv[t * c.hd + j] = static_cast<float>(std::cos(double(f)));
      sinv[t * c.hd + j] = static_cast<float>(std::sin(double(f)));
    }
  auto apply_rope = [&](std::vector<double>& x, int64_t heads) {  // x [B*T, heads*hd]
    std::vector<double> out(x.size());
    for (int64_t r = 0; r < B * T; ++r) {
      const int64_t t = r % T;
      for (int64_t h = 0; h < heads; ++h) {
        const double* v = &x[(r * heads + h) * c.hd];
        for (int64_t j = 0; j < c.hd; ++j) {
          const double rot = j < c.hd / 2 ? -v[j + c.hd / 2] : v[j - c.hd / 2];  // rotate_half
          out[(r * heads + h) * c.hd + j] = v[j] * cosv[t * c.hd + j] + rot * sinv[t * c.hd + j];
        }
      }
    }
    x = out;
  };

  const int64_t N = B * T;
  std::vector<double> x(static_cast<size_t>(N * c.C));
  for (int64_t r = 0; r < N; ++r)
    for (int64_t i = 0; i < c.C; ++i) x[r * c.C + i] = W("model.embed_tokens.weight")[tokens[r] * c.C + i];
  for (int64_t l = 0; l < c.L; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto bias = [&](const std::string& n) { return has(p + n) ? &W(p + n) : nullptr; };
    const std::vector<double> h = rmsnorm(x, W(p + "input_layernorm.weight"), N);
    std::vector<double> q = linear(h, W(p + "self_attn.q_proj.weight"), bias("self_attn.q_proj.bias"), N, c.C, c.H * c.hd);
    std::vector<double> k = linear(h, W(p + "self_attn.k_proj.weight"), bias("self_attn.k_proj.bias"), N, c.C, c.KV * c.hd);
    const std::vector<double> v =
        linear(h, W(p + "self_attn.v_proj.weight"), bias("self_attn.v_proj.bias"), N, c.C, c.KV * c.hd);
    apply_rope(q, c.H);
    apply_rope(k, c.KV);
    std::vector<double> att(static_cast<size_t>(N * c.H * c.hd));
    const int64_t n_rep = c.H / c.KV;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t hh = 0; hh < c.H; ++hh) {
        const int64_t kvh = hh / n_rep;  // repeat_kv
        for (int64_t t = 0; t < T; ++t) {
          std::vector<double> s(static_cast<size_t>(T));
          double mx = -INFINITY;
          for (int64_t u = 0; u < T; ++u) {
            if (u > t) {
              s[u] = -INFINITY;  // causal mask
              continue;
            }
            double d = 0;
            for (int64_t j = 0; j < c.hd; ++j)
              d += q[((b * T + t) * c.H + hh) * c.hd + j] * k[((b * T + u) * c.KV + kvh) * c.hd + j];
            s[u] = d / std::sqrt(double(c.hd));
            mx = std::max(mx, s[u]);
          }
          double z = 0;
          for (int64_t u = 0; u <= t; ++u) z += std::exp(s[u] - mx);
          for (int64_t j = 0; j < c.hd; ++j) {
            double acc = 0;
            for (int64_t u = 0; u <= t; ++u) acc += std::exp(s[u] - mx) / z * v[((b * T + u) * c.KV + kvh) * c.hd + j];
            att[((b * T + t) * c.H + hh) * c.hd + j] = acc;
          }
        }
      }
    const std::vector<double> o = linear(att, W(p + "self_attn.o_proj.weight"), bias("self_attn.o_proj.bias"), N,
                                         c.H * c.hd, c.C);
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    const std::vector<double> h2 = rmsnorm(x, W(p + "post_attention_layernorm.weight"), N);
    const std::vector<double> g = linear(h2, W(p + "mlp.gate_proj.weight"), nullptr, N, c.C, c.I);
    const std::vector<double> u = linear(h2, W(p + "mlp.up_proj.weight"), nullptr, N, c.C, c.I);
    std::vector<double> a(g.size());
    for (size_t i = 0; i < a.size(); ++i) a[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];  // silu(gate) * up
    const std::vector<double> d = linear(a, W(p + "mlp.down_proj.weight"), nullptr, N, c.I, c.C);
    for (size_t i = 0; i < x.size(); ++i) x[i] += d[i];
  }
  const std::vector<double> nf = rmsnorm(x, W("model.norm.weight"), N);
  return linear(nf, c.tied ? W("model.embed_tokens.weight") : W("lm_head.weight"), nullptr, N, c.C, c.V);
}

}  // namespace tandem::llama::test
