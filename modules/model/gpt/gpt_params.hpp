// GPT-2's parameters: Hugging Face names, true shapes, layers, and GPT-2's initialisation.
//
// Order and names are those of transformers' GPT2LMHeadModel state dict, so checkpoints map one to
// one. Linear layers are Conv1D: weight stored [in, out], y = x W + b. The LM head is tied to
// transformer.wte.weight and is not a parameter of its own.
//
//   layer 0          transformer.wte.weight [V, C], transformer.wpe.weight [block_size, C]
//   layer 1 + i      transformer.h.{i}.ln_1.weight/bias [C], attn.c_attn.weight [C, 3C], .bias [3C],
//                    attn.c_proj.weight [C, C], .bias [C], ln_2.weight/bias [C],
//                    mlp.c_fc.weight [C, 4C], .bias [4C], mlp.c_proj.weight [4C, C], .bias [C]
//   layer n_layer+1  transformer.ln_f.weight/bias [C]
#pragma once

#include <cstdint>
#include <vector>

#include "gpt_config.hpp"
#include "tandem/compute/param_access.hpp"

namespace tandem::gpt {

// Index of each parameter within its layer (the order acquire() returns them in).
enum EmbeddingParam : int { kWte = 0, kWpe, kEmbeddingParamCount };
enum BlockParam : int {
  kLn1Weight = 0,
  kLn1Bias,
  kAttnWeight,
  kAttnBias,
  kAttnProjWeight,
  kAttnProjBias,
  kLn2Weight,
  kLn2Bias,
  kFcWeight,
  kFcBias,
  kMlpProjWeight,
  kMlpProjBias,
  kBlockParamCount
};
enum FinalParam : int { kLnfWeight = 0, kLnfBias, kFinalParamCount };

enum class Init { normal, zeros, ones };

struct GptParam {
  compute::ParamInfo info;
  Init init = Init::normal;
  double std = 0.0;  // for Init::normal
};

// All parameters in Hugging Face order (validates the config first).
std::vector<GptParam> gpt_parameters(const GptConfig& cfg);
std::vector<compute::ParamInfo> gpt_param_infos(const GptConfig& cfg);

// GPT-2's initialisation of parameter `index` (its position in gpt_parameters), elements
// [first, first + out.numel()) of its flattened values, written to out (f32, f64 or bf16):
// normal(0, 0.02) for embeddings and weights, scaled by 1/sqrt(2 n_layer) for the two c_proj
// weights (the residual projections), zeros for biases, ones for LayerNorm weights. Each value is
// normal(seed, stream = index, element) (tandem/compute/rng.hpp): a shard initialised alone gets
// exactly the values of the full tensor.
void gpt_init_param(const std::vector<GptParam>& params, size_t index, uint64_t seed, const compute::TensorView& out,
                    int64_t first = 0);

}  // namespace tandem::gpt
