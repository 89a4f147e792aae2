// The `llama` module's params: Hugging Face LlamaConfig / Qwen2Config keys with their defaults, so
// the values of a config.json carry over as they are; and the config they make. A key that changes
// the math in a way this module does not compute is declared too, so that it is refused by name
// (hidden_act other than silu, mlp_bias, rope_scaling other than the default) instead of ignored.
#pragma once

#include <stdexcept>
#include <string>

#include "llama_config.hpp"
#include "tandem/model.hpp"

namespace tandem::llama {

inline constexpr const char* kModelTypes[] = {"llama", "qwen2", nullptr};
inline constexpr const char* kHiddenActs[] = {"silu", nullptr};

inline constexpr tandem_param_spec kModuleParams[] = {
    sdk::optional_param("model_type", TANDEM_PARAM_STRING, "\"llama\"",
                        "llama (q/k/v/o biases iff attention_bias) or qwen2 (q/k/v biases, none on o)", -HUGE_VAL,
                        HUGE_VAL, kModelTypes),
    sdk::optional_param("hidden_size", TANDEM_PARAM_INT, "4096", "width of the residual stream", 1, 1 << 20),
    sdk::optional_param("intermediate_size", TANDEM_PARAM_INT, "11008", "width of the SwiGLU MLP", 1, 1 << 22),
    sdk::optional_param("num_hidden_layers", TANDEM_PARAM_INT, "32", "decoder layers", 1, 4096),
    sdk::optional_param("num_attention_heads", TANDEM_PARAM_INT, "32", "query heads", 1, 4096),
    sdk::optional_param("num_key_value_heads", TANDEM_PARAM_INT, "0",
                        "key/value heads (grouped-query attention; must divide num_attention_heads); "
                        "0 or null: as num_attention_heads", 0, 4096),
    sdk::optional_param("head_dim", TANDEM_PARAM_INT, "0",
                        "per-head width; 0 or null: hidden_size / num_attention_heads", 0, 65536),
    sdk::optional_param("vocab_size", TANDEM_PARAM_INT, "32000", "tokens; 256 for byte-level text", 1, 1 << 24),
    sdk::optional_param("max_position_embeddings", TANDEM_PARAM_INT, "2048", "longest sequence", 1, 1 << 24),
    sdk::optional_param("rms_norm_eps", TANDEM_PARAM_FLOAT, "1e-6", "RMSNorm epsilon", 0, 1),
    sdk::optional_param("rope_theta", TANDEM_PARAM_FLOAT, "10000.0", "RoPE base", 1, 1e12),
    sdk::optional_param("rope_scaling", TANDEM_PARAM_STRING, "\"default\"",
                        "the rope_scaling type (rope_type); only the default (null) is implemented"),
    sdk::optional_param("tie_word_embeddings", TANDEM_PARAM_BOOL, "false", "lm_head is embed_tokens"),
    sdk::optional_param("attention_bias", TANDEM_PARAM_BOOL, "false", "Llama: biases on q, k, v and o"),
    sdk::optional_param("mlp_bias", TANDEM_PARAM_BOOL, "false", "Llama's MLP biases: not implemented (false only)"),
    sdk::optional_param("hidden_act", TANDEM_PARAM_STRING, "\"silu\"", "the MLP's activation (silu only)", -HUGE_VAL,
                        HUGE_VAL, kHiddenActs),
    sdk::optional_param("initializer_range", TANDEM_PARAM_FLOAT, "0.02", "std of the normal initialisation", 0, 10),
};

// The params as a checked config; errors say "llama: ...".
inline LlamaConfig config_from(const sdk::Params& p) {
  LlamaConfig cfg;
  cfg.model_type = p.string("model_type");
  cfg.hidden_size = p.integer("hidden_size");
  cfg.intermediate_size = p.integer("intermediate_size");
  cfg.num_hidden_layers = p.integer("num_hidden_layers");
  cfg.num_attention_heads = p.integer("num_attention_heads");
  cfg.vocab_size = p.integer("vocab_size");
  cfg.max_position_embeddings = p.integer("max_position_embeddings");
  cfg.rms_norm_eps = p.number("rms_norm_eps");
  cfg.rope_theta = p.number("rope_theta");
  cfg.rope_scaling = p.string("rope_scaling");
  cfg.tie_word_embeddings = p.boolean("tie_word_embeddings");
  cfg.attention_bias = p.boolean("attention_bias");
  cfg.initializer_range = p.number("initializer_range");
  cfg.num_key_value_heads = p.integer("num_key_value_heads");
  cfg.head_dim = p.integer("head_dim");
  if (p.boolean("mlp_bias"))
    throw std::invalid_argument("llama: mlp_bias true is not implemented (Llama's MLP biases); this module computes "
                                "gate/up/down projections without biases");
  cfg.validate();
  return cfg;
}

}  // namespace tandem::llama
