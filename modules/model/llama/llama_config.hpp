// A Llama-family model's size and variant, in Hugging Face LlamaConfig / Qwen2Config's names, so
// that a config.json's values carry over as they are (llama_module_support.hpp lists the params).
//
// model_type "llama": q, k, v and o projections have biases iff attention_bias (LlamaAttention).
// model_type "qwen2": q, k and v always have biases and o never does (Qwen2Attention); Qwen2's
// config has no attention_bias, and giving it true is refused rather than guessed at.
#pragma once

#include <cstdint>
#include <string>

namespace tandem::llama {

struct LlamaConfig {
  std::string model_type = "llama";
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 0;  // 0: as num_attention_heads (plain multi-head attention)
  int64_t head_dim = 0;             // 0: hidden_size / num_attention_heads
  int64_t vocab_size = 32000;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::string rope_scaling = "default";  // rope_scaling's type; only the default is implemented
  bool tie_word_embeddings = false;
  bool attention_bias = false;
  double initializer_range = 0.02;

  // Throws std::invalid_argument naming the offending field and value (and what to do).
  void validate() const;

  int64_t kv_heads() const { return num_key_value_heads > 0 ? num_key_value_heads : num_attention_heads; }
  int64_t head_size() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }
  int64_t q_width() const { return num_attention_heads * head_size(); }
  int64_t kv_width() const { return kv_heads() * head_size(); }
  bool qkv_bias() const { return model_type == "qwen2" || attention_bias; }
  bool o_bias() const { return model_type == "llama" && attention_bias; }

  // Layers in forward order: 0 = embed_tokens, 1..L = decoder layers, L + 1 = norm (and lm_head).
  int layer_count() const { return static_cast<int>(num_hidden_layers) + 2; }
  int block_layer(int64_t block) const { return static_cast<int>(block) + 1; }
  int final_layer() const { return static_cast<int>(num_hidden_layers) + 1; }
};

}  // namespace tandem::llama
