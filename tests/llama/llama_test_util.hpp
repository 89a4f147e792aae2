// Shared set-up for the llama tests: tiny configs of each variant, a store initialised as Hugging
// Face does and then perturbed (so no RMSNorm weight sits at exactly 1, no bias at 0), random tokens,
// and the store's values by name for the independent reference (llama_reference.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llama_params.hpp"
#include "llama_reference.hpp"
#include "tandem/compute/param_access.hpp"
#include "tandem/compute/rng.hpp"

namespace tandem::llama::test {

// Llama with grouped-query attention (4 heads on 2 kv heads), untied head.
inline LlamaConfig tiny_llama() {
  LlamaConfig c;
  c.hidden_size = 8;
  c.intermediate_size = 12;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.vocab_size = 11;
  c.max_position_embeddings = 6;
  c.rope_theta = 100.0;  // large rotations at these few positions
  return c;
}
// Llama with attention_bias (q, k, v and o), multi-head, tied head.
inline LlamaConfig tiny_llama_tied_bias() {
  LlamaConfig c = tiny_llama();
  c.num_key_value_heads = 0;
  c.tie_word_embeddings = true;
  c.attention_bias = true;
  return c;
}
// Qwen2: q, k, v biases, none on o; one kv head for four query heads.
inline LlamaConfig tiny_qwen2() {
  LlamaConfig c = tiny_llama();
  c.model_type = "qwen2";
  c.num_key_value_heads = 1;
  c.rope_theta = 1000000.0;
  c.rms_norm_eps = 1e-5;
  return c;
}

inline compute::ResidentParams make_store(const LlamaConfig& cfg, compute::DType dtype, uint64_t seed,
                                          double perturb = 0.1) {
  LlamaConfig c = cfg;
  c.initializer_range = 0.3;  // tiny models: larger weights exercise the nonlinearities
  const std::vector<LlamaParam> params = llama_parameters(c);
  compute::ResidentParams store(llama_param_infos(c), dtype);
  for (size_t i = 0; i < params.size(); ++i) {
    llama_init_param(params, i, seed, store.param(i));
    const compute::TensorView v = store.param(i);
    for (int64_t e = 0; e < v.numel(); ++e) {
      const double noise = perturb * compute::normal(seed + 1, i, static_cast<uint64_t>(e));
      if (dtype == compute::DType::f64)
        static_cast<double*>(v.data)[e] += noise;
      else
        static_cast<float*>(v.data)[e] += static_cast<float>(noise);
    }
  }
  return store;
}

inline std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, uint64_t seed) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    t[static_cast<size_t>(i)] = static_cast<int32_t>(compute::uniform(seed, 99, static_cast<uint64_t>(i)) * vocab);
  return t;
}

inline Weights weights_of(const compute::ResidentParams& store) {
  Weights w;
  for (size_t i = 0; i < store.infos().size(); ++i) {
    const compute::TensorView v = store.param(i);
    std::vector<double>& out = w[store.infos()[i].name];
    for (int64_t e = 0; e < v.numel(); ++e)
      out.push_back(v.dtype == compute::DType::f64 ? static_cast<const double*>(v.data)[e]
                                                   : static_cast<double>(static_cast<const float*>(v.data)[e]));
  }
  return w;
}

inline RefConfig ref_config(const LlamaConfig& c) {
  RefConfig r;
  r.qwen2 = c.model_type == "qwen2";
  r.C = c.hidden_size;
  r.I = c.intermediate_size;
  r.L = c.num_hidden_layers;
  r.H = c.num_attention_heads;
  r.KV = c.kv_heads();
  r.hd = c.head_size();
  r.V = c.vocab_size;
  r.eps = c.rms_norm_eps;
  r.theta = c.rope_theta;
  r.tied = c.tie_word_embeddings;
  r.attention_bias = c.attention_bias;
  return r;
}

}  // namespace tandem::llama::test
