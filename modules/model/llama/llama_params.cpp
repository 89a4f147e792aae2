#include "llama_params.hpp"

#include <stdexcept>
#include <string>

#include "tandem/compute/bf16.hpp"
#include "tandem/compute/rng.hpp"

namespace tandem::llama {

using compute::ParamInfo;
using compute::Shape;

BlockSlots block_slots(const LlamaConfig& cfg) {
  BlockSlots s;
  int n = 0;
  s.q_w = n++;
  if (cfg.qkv_bias()) s.q_b = n++;
  s.k_w = n++;
  if (cfg.qkv_bias()) s.k_b = n++;
  s.v_w = n++;
  if (cfg.qkv_bias()) s.v_b = n++;
  s.o_w = n++;
  if (cfg.o_bias()) s.o_b = n++;
  s.gate_w = n++;
  s.up_w = n++;
  s.down_w = n++;
  s.norm1 = n++;
  s.norm2 = n++;
  s.count = n;
  return s;
}

std::vector<LlamaParam> llama_parameters(const LlamaConfig& cfg) {
  cfg.validate();
  const int64_t C = cfg.hidden_size, I = cfg.intermediate_size, Q = cfg.q_width(), KV = cfg.kv_width();
  const double std = cfg.initializer_range;
  std::vector<LlamaParam> out;
  auto add = [&](std::string name, Shape shape, int layer, Init init) {
    const bool no_decay = init != Init::normal || shape.rank() == 1;
    out.push_back({ParamInfo{std::move(name), shape, layer, no_decay}, init, init == Init::normal ? std : 0.0});
  };
  add("model.embed_tokens.weight", {cfg.vocab_size, C}, 0, Init::normal);
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const int layer = cfg.block_layer(i);
    // Order of the state dict: self_attn (q, k, v, o), mlp (gate, up, down), then the two norms.
    add(p + "self_attn.q_proj.weight", {Q, C}, layer, Init::normal);
    if (cfg.qkv_bias()) add(p + "self_attn.q_proj.bias", {Q}, layer, Init::zeros);
    add(p + "self_attn.k_proj.weight", {KV, C}, layer, Init::normal);
    if (cfg.qkv_bias()) add(p + "self_attn.k_proj.bias", {KV}, layer, Init::zeros);
    add(p + "self_attn.v_proj.weight", {KV, C}, layer, Init::normal);
    if (cfg.qkv_bias()) add(p + "self_attn.v_proj.bias", {KV}, layer, Init::zeros);
    add(p + "self_attn.o_proj.weight", {C, Q}, layer, Init::normal);
    if (cfg.o_bias()) add(p + "self_attn.o_proj.bias", {C}, layer, Init::zeros);
    add(p + "mlp.gate_proj.weight", {I, C}, layer, Init::normal);
    add(p + "mlp.up_proj.weight", {I, C}, layer, Init::normal);
    add(p + "mlp.down_proj.weight", {C, I}, layer, Init::normal);
    add(p + "input_layernorm.weight", {C}, layer, Init::ones);
    add(p + "post_attention_layernorm.weight", {C}, layer, Init::ones);
  }
  add("model.norm.weight", {C}, cfg.final_layer(), Init::ones);
  if (!cfg.tie_word_embeddings) add("lm_head.weight", {cfg.vocab_size, C}, cfg.final_layer(), Init::normal);
  return out;
}

std::vector<ParamInfo> llama_param_infos(const LlamaConfig& cfg) {
  std::vector<ParamInfo> infos;
  for (LlamaParam& p : llama_parameters(cfg)) infos.push_back(std::move(p.info));
  return infos;
}

void llama_init_param(const std::vector<LlamaParam>& params, size_t index, uint64_t seed,
                      const compute::TensorView& out, int64_t first) {
  if (index >= params.size())
    throw std::invalid_argument("llama init: parameter index " + std::to_string(index) + " out of range (" +
                                std::to_string(params.size()) + " parameters)");
  const LlamaParam& p = params[index];
  const int64_t n = out.numel();
  if (first < 0 || first + n > p.info.shape.numel())
    throw std::invalid_argument("llama init: " + p.info.name + ": elements [" + std::to_string(first) + ", " +
                                std::to_string(first + n) + ") outside its " +
                                std::to_string(p.info.shape.numel()) + " values");
  auto value = [&](int64_t i) -> double {
    switch (p.init) {
      case Init::zeros: return 0.0;
      case Init::ones: return 1.0;
      case Init::normal: return p.std * compute::normal(seed, index, static_cast<uint64_t>(first + i));
    }
    return 0.0;
  };
  switch (out.dtype) {
    case compute::DType::f32: {
      float* d = out.as<float>(p.info.name);
      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<float>(value(i));
      return;
    }
    case compute::DType::f64: {
      double* d = out.as<double>(p.info.name);
      for (int64_t i = 0; i < n; ++i) d[i] = value(i);
      return;
    }
    case compute::DType::bf16: {
      compute::bf16* d = out.as<compute::bf16>(p.info.name);
      for (int64_t i = 0; i < n; ++i) d[i] = compute::to_bf16(static_cast<float>(value(i)));
      return;
    }
    default:
      throw std::invalid_argument("llama init: " + p.info.name + ": cannot initialise dtype " +
                                  std::string(compute::dtype_name(out.dtype)));
  }
}

}  // namespace tandem::llama
