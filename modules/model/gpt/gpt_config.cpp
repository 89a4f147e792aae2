#include "gpt_config.hpp"

#include <limits>
#include <stdexcept>
#include <string>

namespace tandem::gpt {
namespace {
void require_positive(const char* field, int64_t v) {
  if (v <= 0) throw std::invalid_argument(std::string("gpt: ") + field + " must be > 0, got " + std::to_string(v));
}
}  // namespace

void GptConfig::validate() const {
  require_positive("n_layer", n_layer);
  require_positive("n_head", n_head);
  require_positive("n_embd", n_embd);
  require_positive("vocab_size", vocab_size);
  require_positive("block_size", block_size);
  if (n_embd % n_head != 0)
    throw std::invalid_argument("gpt: n_embd (" + std::to_string(n_embd) + ") must be divisible by n_head (" +
                                std::to_string(n_head) + ")");
  // Token ids are int32, and BLAS takes 32-bit sizes (the widest product dimension is 4 * n_embd).
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  if (vocab_size > kMax) throw std::invalid_argument("gpt: vocab_size " + std::to_string(vocab_size) + " exceeds int32");
  if (n_embd > kMax / 4) throw std::invalid_argument("gpt: n_embd " + std::to_string(n_embd) + " is too large");
  if (block_size > kMax) throw std::invalid_argument("gpt: block_size " + std::to_string(block_size) + " exceeds int32");
  if (n_layer > 100000) throw std::invalid_argument("gpt: n_layer " + std::to_string(n_layer) + " is implausible");
}

}  // namespace tandem::gpt
