// Engine::forward_cached: the model's KV-cached inference (SDK 1.4, tandem/model.h), gated on the
// module's table. A module built against an older minor has a shorter table (struct_size), so the
// entry is read only when struct_size covers it; one that has no cache where it runs says UNSUPPORTED.
// Either way the caller falls back to forward() over the whole sequence (tandem/generate.hpp).
#include "engine/engine_rank.hpp"
#include "tandem/call.hpp"
#include "tandem/module.hpp"
#include "tandem/engine.hpp"

namespace tandem {

std::optional<Logits> Engine::forward_cached(const TokenBatch& batch, int64_t past) {
  if (ranks_.size() != 1 || gpu_) return std::nullopt;
  Rank& rank = *ranks_.front();
  const tandem_model_vtable& vt = *rank.model_vt;
  if (!TANDEM_HAS_FIELD(vt.struct_size, tandem_model_vtable, forward_cached) || vt.forward_cached == nullptr)
    return std::nullopt;
  if (batch.batch < 1 || batch.seq < 1 || batch.inputs.size() != static_cast<size_t>(batch.batch * batch.seq))
    throw std::invalid_argument(name_ + ": forward_cached needs batch * seq tokens");
  if (past < 0 || past + batch.seq > max_sequence_)
    throw std::invalid_argument(name_ + ": positions " + std::to_string(past) + " .. " +
                                std::to_string(past + batch.seq - 1) + " exceed the model's " +
                                std::to_string(max_sequence_));
  std::vector<int32_t> tokens = batch.inputs;  // the model reads them during the call only
  tandem_tensor_view in{};
  in.struct_size = sizeof in;
  in.dtype = TANDEM_DTYPE_I32;
  in.device = TANDEM_DEVICE_CPU;
  in.data = tokens.data();
  in.ndim = 2;
  in.shape[0] = batch.batch;
  in.shape[1] = batch.seq;
  tandem_tensor_view logits{};
  logits.struct_size = sizeof logits;
  try {
    sdk::call_checked([&](tandem_error* err) {
      return vt.forward_cached(rank.model->handle(), &in, past, rank.access(), &logits, err);
    });
  } catch (const sdk::Unsupported&) {
    return std::nullopt;
  }
  if (logits.dtype != TANDEM_DTYPE_F32 || logits.device != TANDEM_DEVICE_CPU || logits.ndim != 3 ||
      logits.shape[0] != batch.batch || logits.shape[1] != batch.seq || logits.shape[2] != vocab_)
    throw std::runtime_error(name_ + ": the model's forward_cached returned logits that are not F32 [" +
                             std::to_string(batch.batch) + ", " + std::to_string(batch.seq) + ", " +
                             std::to_string(vocab_) + "] on the CPU");
  ++forwards_;  // an earlier forward's logits may be overwritten
  last_forward_trained_ = false;  // nothing to go back through
  Logits out;
  out.batch = batch.batch;
  out.seq = batch.seq;
  out.vocab = vocab_;
  out.per_rank = {static_cast<const float*>(logits.data)};
  return out;
}

}  // namespace tandem
