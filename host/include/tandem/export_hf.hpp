// `tandem checkpoint export DIR OUT/`: a model as a Hugging Face GPT-2 directory that
// transformers' GPT2LMHeadModel.from_pretrained(OUT) loads with the same logits.
//
// OUT/model.safetensors holds every parameter under GPT2LMHeadModel's state-dict name
// ("transformer.h.0.attn.c_attn.weight", ...) in its layout (Conv1D weights [in, out], as tandem's gpt
// keeps them), fp32 or bf16 (rounded to nearest even); the head is tied to transformer.wte.weight and
// not stored, as Hugging Face saves GPT-2. OUT/config.json is a GPT2Config: n_embd, n_layer, n_head,
// n_positions (= n_ctx), vocab_size, layer_norm_epsilon 1e-5, activation_function gelu_new (GELU-tanh),
// tie_word_embeddings true, architectures ["GPT2LMHeadModel"], dropouts 0, torch_dtype. Tokenizer files
// (vocab.json, merges.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json) lying beside
// the source's weights are copied.
//
// OUT must not exist or be an empty directory; with `force`, an existing directory is written into,
// and only the files listed above are replaced (nothing else in it is touched). A model that is not
// tandem's gpt (another module type) is refused, naming its type.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tandem/inference.hpp"

namespace tandem {

enum class ExportDtype { f32, bf16 };

struct ExportReport {
  size_t tensors = 0;
  int64_t parameters = 0;
  std::vector<std::string> files;  // written into OUT, in order
};

// Throws std::invalid_argument (OUT unusable, a model that is not GPT-2) before anything is written.
ExportReport export_hugging_face(InferenceModel& model, const std::filesystem::path& source,
                                 const std::filesystem::path& out, ExportDtype dtype, bool force);

// Checks OUT as export_hugging_face does, before the model is even loaded.
void check_export_directory(const std::filesystem::path& out, bool force);

}  // namespace tandem
