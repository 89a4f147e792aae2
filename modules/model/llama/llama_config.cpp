#include "llama_config.hpp"

#include <limits>
#include <stdexcept>
#include <string>

namespace tandem::llama {
namespace {
[[noreturn]] void refuse(const std::string& what) { throw std::invalid_argument("llama: " + what); }

void require_positive(const char* field, int64_t v) {
  if (v <= 0) refuse(std::string(field) + " must be > 0, got " + std::to_string(v));
}
}  // namespace

void LlamaConfig::validate() const {
  if (model_type != "llama" && model_type != "qwen2")
    refuse("model_type \"" + model_type + "\" is not one this module computes (llama, qwen2)");
  require_positive("hidden_size", hidden_size);
  require_positive("intermediate_size", intermediate_size);
  require_positive("num_hidden_layers", num_hidden_layers);
  require_positive("num_attention_heads", num_attention_heads);
  require_positive("vocab_size", vocab_size);
  require_positive("max_position_embeddings", max_position_embeddings);
  if (num_key_value_heads < 0) refuse("num_key_value_heads must be >= 0, got " + std::to_string(num_key_value_heads));
  if (head_dim < 0) refuse("head_dim must be >= 0, got " + std::to_string(head_dim));
  if (head_dim == 0 && hidden_size % num_attention_heads != 0)
    refuse("hidden_size (" + std::to_string(hidden_size) + ") must be divisible by num_attention_heads (" +
           std::to_string(num_attention_heads) + "), or give head_dim");
  if (num_attention_heads % kv_heads() != 0)
    refuse("num_key_value_heads (" + std::to_string(kv_heads()) + ") must divide num_attention_heads (" +
           std::to_string(num_attention_heads) + ")");
  if (head_size() % 2 != 0)
    refuse("the head dimension (" + std::to_string(head_size()) + ") must be even: rotary embeddings rotate its halves");
  if (!(rms_norm_eps > 0)) refuse("rms_norm_eps must be > 0, got " + std::to_string(rms_norm_eps));
  if (!(rope_theta > 0)) refuse("rope_theta must be > 0, got " + std::to_string(rope_theta));
  if (rope_scaling != "default")
    refuse("rope_scaling type \"" + rope_scaling +
           "\" is not implemented: this module computes the original RoPE only (rope_scaling null or "
           "{\"rope_type\": \"default\"}); a checkpoint trained with scaled positions would give wrong logits");
  if (model_type == "qwen2" && attention_bias)
    refuse("attention_bias is not a Qwen2 setting (Qwen2 always has q, k, v biases and no o bias); leave it out");
  // Token ids are int32, and BLAS takes 32-bit sizes.
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  if (vocab_size > kMax) refuse("vocab_size " + std::to_string(vocab_size) + " exceeds int32");
  if (hidden_size > kMax / 4 || intermediate_size > kMax / 4 || q_width() > kMax / 4)
    refuse("hidden_size / intermediate_size / heads x head_dim too large");
  if (num_hidden_layers > 100000) refuse("num_hidden_layers " + std::to_string(num_hidden_layers) + " is implausible");
  if (!(initializer_range >= 0)) refuse("initializer_range must be >= 0");
}

}  // namespace tandem::llama
