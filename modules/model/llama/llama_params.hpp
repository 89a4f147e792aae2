// A Llama/Qwen2 model's parameters: Hugging Face names and shapes, layers, and initialisation.
//
// Names and order are those of transformers' LlamaForCausalLM / Qwen2ForCausalLM state dict, so a
// model.safetensors that save_pretrained wrote loads by name as it is. Linear weights are
// nn.Linear's, stored [out, in]: y = x W^T + b (GPT-2's Conv1D is the transpose).
//
//   layer 0      model.embed_tokens.weight [V, C]
//   layer 1 + i  model.layers.{i}.self_attn.q_proj.weight [H*hd, C] (.bias [H*hd] with qkv bias),
//                k_proj / v_proj .weight [KV*hd, C] (.bias [KV*hd]), o_proj.weight [C, H*hd] (.bias [C]
//                for Llama with attention_bias), mlp.gate_proj.weight [I, C], mlp.up_proj.weight [I, C],
//                mlp.down_proj.weight [C, I], input_layernorm.weight [C], post_attention_layernorm.weight [C]
//   layer L + 1  model.norm.weight [C], lm_head.weight [V, C] (absent when tie_word_embeddings)
#pragma once

#include <cstdint>
#include <vector>

#include "llama_config.hpp"
#include "tandem/compute/param_access.hpp"

namespace tandem::llama {

enum class Init { normal, zeros, ones };

struct LlamaParam {
  compute::ParamInfo info;
  Init init = Init::normal;
  double std = 0.0;  // for Init::normal
};

// Where each parameter of a decoder layer sits in that layer's list (-1: absent in this variant).
struct BlockSlots {
  int q_w = -1, q_b = -1, k_w = -1, k_b = -1, v_w = -1, v_b = -1, o_w = -1, o_b = -1;
  int gate_w = -1, up_w = -1, down_w = -1, norm1 = -1, norm2 = -1;
  int count = 0;
};
BlockSlots block_slots(const LlamaConfig& cfg);
// In layer L + 1: the final norm first, then lm_head when untied.
inline constexpr int kFinalNorm = 0, kLmHead = 1;

// All parameters in Hugging Face order (validates the config first).
std::vector<LlamaParam> llama_parameters(const LlamaConfig& cfg);
std::vector<compute::ParamInfo> llama_param_infos(const LlamaConfig& cfg);

// Hugging Face's _init_weights: normal(0, initializer_range) for the embedding and every Linear
// weight, zeros for biases, ones for RMSNorm weights. Element e of parameter `index` is
// std * normal(seed, stream = index, e) (tandem/compute/rng.hpp), so a shard initialised alone gets
// exactly the values of the full tensor. out: f32, f64 or bf16; [first, first + numel) of the values.
void llama_init_param(const std::vector<LlamaParam>& params, size_t index, uint64_t seed,
                      const compute::TensorView& out, int64_t first = 0);

}  // namespace tandem::llama
