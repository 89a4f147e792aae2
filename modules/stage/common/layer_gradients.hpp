// The gradient buffers a model adds into during backward, one zeroed buffer per layer, alive from
// acquire_grads(layer) to grads_done(layer) only (ZeRO-2 and ZeRO-3). Like the .grad tensors that
// autograd makes and DeepSpeed frees once it has copied them into its bucket, they are transient:
// while the backward runs, the layers between their acquire_grads and grads_done hold full-size
// gradients (for the GPT model: the embeddings, kept open all through backward for the tied head,
// and the one block in flight). A closing layer's gradients are rounded to the working precision
// first (tandem/working_precision.hpp), as a bf16/fp16 backward produces them.
//
// The buffers are fp32 in the stage's memory (tandem/memory.h: host or device); on a GPU their
// allocation, zeroing, rounding and release are queued on the run's stream, behind the model's work.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "layer_index.hpp"
#include "tandem/memory.hpp"
#include "tandem/working_precision.hpp"

namespace tandem::stage {

class LayerGradients {
 public:
  LayerGradients(const LayerIndex& layers, tandem_dtype dtype, sdk::Memory memory)
      : layers_(layers), dtype_(dtype), memory_(memory) {
    buffers_.resize(static_cast<size_t>(layers.layer_count()));
    open_.assign(static_cast<size_t>(layers.layer_count()), false);
  }

  // Views of the layer's gradients, zeroed when the layer opens; the same buffers if it is open.
  void open(int32_t layer, tandem_tensor_view* views) {
    const std::vector<uint32_t>& params = layers_.params_of(layer);
    sdk::Buffer<float>& buffer = buffers_[static_cast<size_t>(layer)];
    if (!open_[static_cast<size_t>(layer)]) {
      size_t total = 0;
      for (uint32_t i : params) total += layers_.numel(i);
      buffer = sdk::Buffer<float>(memory_, total);
      open_[static_cast<size_t>(layer)] = true;
      live_ += total;
    }
    size_t at = 0;
    for (size_t k = 0; k < params.size(); ++k) {
      views[k] = layers_.view(params[k], buffer.data() + at, TANDEM_DTYPE_F32, memory_.where());
      at += layers_.numel(params[k]);
    }
  }

  // Hands each of the layer's parameters' gradients to sink(param, values), in the model's order,
  // then frees the layer's buffer (after the sink's queued work on a GPU). A layer that is not open
  // has nothing to give.
  template <class Sink>
  void close(int32_t layer, Sink&& sink) {
    const std::vector<uint32_t>& params = layers_.params_of(layer);
    if (!open_[static_cast<size_t>(layer)]) return;
    sdk::Buffer<float>& buffer = buffers_[static_cast<size_t>(layer)];
    memory_.round(buffer.data(), buffer.size(), dtype_);
    size_t at = 0;
    for (uint32_t i : params) {
      sink(i, buffer.data() + at);
      at += layers_.numel(i);
    }
    live_ -= buffer.size();
    buffer.reset();
    open_[static_cast<size_t>(layer)] = false;
  }

  // Closes every layer still open, in layer order (the same on every rank).
  template <class Sink>
  void close_all(Sink&& sink) {
    for (int32_t l = 0; l < layers_.layer_count(); ++l) close(l, sink);
  }

  // Elements of the open layers' buffers.
  size_t live_elements() const { return live_; }

 private:
  const LayerIndex& layers_;
  tandem_dtype dtype_;
  sdk::Memory memory_;
  std::vector<sdk::Buffer<float>> buffers_;
  std::vector<bool> open_;
  size_t live_ = 0;
};

}  // namespace tandem::stage
