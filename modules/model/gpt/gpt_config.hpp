// GPT-2's size, as a run file gives it (Hugging Face GPT2Config's names: n_layer, n_head, n_embd,
// vocab_size, and block_size for n_positions).
#pragma once

#include <cstdint>

namespace tandem::gpt {

struct GptConfig {
  int64_t n_layer = 12;
  int64_t n_head = 12;
  int64_t n_embd = 768;
  int64_t vocab_size = 50257;
  int64_t block_size = 1024;  // longest sequence: rows of the position embedding

  // Throws std::invalid_argument naming the offending field and value.
  void validate() const;

  int64_t head_dim() const { return n_embd / n_head; }
  // Layers in forward order: 0 = embeddings (wte, wpe), 1..n_layer = blocks, n_layer + 1 = ln_f.
  int layer_count() const { return static_cast<int>(n_layer) + 2; }
  int block_layer(int64_t block) const { return static_cast<int>(block) + 1; }
  int final_layer() const { return static_cast<int>(n_layer) + 1; }
};

}  // namespace tandem::gpt
