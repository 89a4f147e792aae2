// DataLoader: windows of T+1 tokens, shuffled per epoch, dealt to ranks round-robin (see data.hpp).
#include <cmath>

#include "tandem/data.hpp"

namespace tandem::data {

namespace {

std::string setting_error(const std::string& what) { return "data loader: " + what; }

}  // namespace

DataLoader::DataLoader(std::shared_ptr<const Tokens> tokens, LoaderConfig config)
    : tokens_(std::move(tokens)), config_(config) {
  if (!tokens_) throw DataError("", setting_error("no tokens"));
  const std::string& src = tokens_->source;
  const LoaderConfig& c = config_;
  if (c.block_size < 1) throw DataError(src, setting_error("block_size must be >= 1, got " + std::to_string(c.block_size)));
  if (c.micro_batch < 1)
    throw DataError(src, setting_error("micro_batch must be >= 1, got " + std::to_string(c.micro_batch)));
  if (c.world_size < 1 || c.rank < 0 || c.rank >= c.world_size)
    throw DataError(src, setting_error("rank " + std::to_string(c.rank) + " is outside [0, world_size = " +
                                       std::to_string(c.world_size) + ")"));
  if (!(c.val_fraction >= 0.0 && c.val_fraction < 1.0))
    throw DataError(src, setting_error("val_fraction must be in [0, 1), got " + std::to_string(c.val_fraction)));

  const uint64_t n = tokens_->ids.size();
  const uint64_t T = static_cast<uint64_t>(c.block_size);
  const uint64_t per_step = static_cast<uint64_t>(c.micro_batch) * static_cast<uint64_t>(c.world_size);
  if (c.val_from >= n)
    throw DataError(src, setting_error("the validation split starts at token " + std::to_string(c.val_from) +
                                       ", past the stream's " + std::to_string(n) + " tokens"));
  const uint64_t held_out =
      c.val_from > 0 ? n - c.val_from : static_cast<uint64_t>(std::floor(static_cast<double>(n) * c.val_fraction));
  train_tokens_ = n - held_out;
  // A window needs T + 1 tokens; consecutive windows start T apart.
  train_windows_ = train_tokens_ > T ? (train_tokens_ - 1) / T : 0;
  val_windows_ = held_out > T ? (held_out - 1) / T : 0;
  steps_per_epoch_ = train_windows_ / per_step;
  val_batches_ = val_windows_ / per_step;
  if (steps_per_epoch_ == 0)
    throw DataError(src, setting_error("the training split has " + std::to_string(train_tokens_) + " tokens, " +
                                       std::to_string(train_windows_) + " windows of " + std::to_string(T + 1) +
                                       " tokens; one step needs micro_batch x world_size = " +
                                       std::to_string(per_step)));
  if (c.val_from > 0 && val_batches_ == 0)
    throw DataError(src, setting_error("the validation data has " + std::to_string(held_out) + " tokens, " +
                                       std::to_string(val_windows_) + " windows of " + std::to_string(T + 1) +
                                       " tokens; one batch per rank needs " + std::to_string(per_step) +
                                       ": use a larger val file, or a smaller seq_len or micro_batch"));
  if (c.val_from == 0 && c.val_fraction > 0 && val_batches_ == 0)
    throw DataError(src, setting_error("the validation split (val_fraction " + std::to_string(c.val_fraction) +
                                       ") has " + std::to_string(held_out) + " tokens, " +
                                       std::to_string(val_windows_) + " windows of " + std::to_string(T + 1) +
                                       " tokens; one batch per rank needs " + std::to_string(per_step) +
                                       ": raise val_fraction or use more data"));
  order_ = shuffled_order(train_windows_, c.seed, 0);
}

std::vector<uint64_t> DataLoader::rows_in(const std::vector<uint32_t>& order, uint64_t step) const {
  const uint64_t B = static_cast<uint64_t>(config_.micro_batch), W = static_cast<uint64_t>(config_.world_size);
  const uint64_t T = static_cast<uint64_t>(config_.block_size);
  std::vector<uint64_t> rows(static_cast<size_t>(B));
  for (uint64_t b = 0; b < B; ++b)
    rows[static_cast<size_t>(b)] = uint64_t{order[static_cast<size_t>((step * B + b) * W + static_cast<uint64_t>(config_.rank))]} * T;
  return rows;
}

void DataLoader::fill(const std::vector<uint64_t>& rows, Batch& out) const {
  const int64_t B = config_.micro_batch, T = config_.block_size;
  out.batch = B;
  out.block = T;
  out.inputs.resize(static_cast<size_t>(B * T));
  out.targets.resize(static_cast<size_t>(B * T));
  const uint16_t* ids = tokens_->ids.data();
  for (int64_t b = 0; b < B; ++b) {
    const uint16_t* window = ids + rows[static_cast<size_t>(b)];
    int32_t* in = out.inputs.data() + b * T;
    int32_t* tg = out.targets.data() + b * T;
    for (int64_t t = 0; t < T; ++t) {
      in[t] = window[t];
      tg[t] = window[t + 1];
    }
  }
}

std::vector<uint64_t> DataLoader::train_rows(Position p) const {
  if (p.step >= steps_per_epoch_)
    throw DataError(tokens_->source, setting_error("step " + std::to_string(p.step) + " is past the epoch's " +
                                                   std::to_string(steps_per_epoch_) + " steps"));
  if (p.epoch == position_.epoch) return rows_in(order_, p.step);
  return rows_in(shuffled_order(train_windows_, config_.seed, p.epoch), p.step);
}

std::vector<uint64_t> DataLoader::val_rows(uint64_t i) const {
  if (i >= val_batches_)
    throw DataError(tokens_->source, setting_error("validation batch " + std::to_string(i) + " of " +
                                                   std::to_string(val_batches_)));
  const uint64_t B = static_cast<uint64_t>(config_.micro_batch), W = static_cast<uint64_t>(config_.world_size);
  const uint64_t T = static_cast<uint64_t>(config_.block_size);
  std::vector<uint64_t> rows(static_cast<size_t>(B));
  for (uint64_t b = 0; b < B; ++b)
    rows[static_cast<size_t>(b)] = train_tokens_ + ((i * B + b) * W + static_cast<uint64_t>(config_.rank)) * T;
  return rows;
}

void DataLoader::next(Batch& out) {
  fill(rows_in(order_, position_.step), out);
  if (++position_.step == steps_per_epoch_) {
    position_.step = 0;
    ++position_.epoch;
    order_ = shuffled_order(train_windows_, config_.seed, position_.epoch);
  }
}

Batch DataLoader::next() {
  Batch b;
  next(b);
  return b;
}

void DataLoader::seek(Position p) {
  if (p.step >= steps_per_epoch_)
    throw DataError(tokens_->source, setting_error("cannot seek to step " + std::to_string(p.step) + ": an epoch has " +
                                                   std::to_string(steps_per_epoch_) + " steps"));
  if (p.epoch != position_.epoch) order_ = shuffled_order(train_windows_, config_.seed, p.epoch);
  position_ = p;
}

void DataLoader::val_batch(uint64_t i, Batch& out) const { fill(val_rows(i), out); }

json::Value DataLoader::state() const {
  json::Value s = json::Value::object();
  s.set("epoch", json::Value::integer(static_cast<int64_t>(position_.epoch)));
  s.set("step", json::Value::integer(static_cast<int64_t>(position_.step)));
  s.set("seed", json::Value::string(std::to_string(config_.seed)));
  s.set("block_size", json::Value::integer(config_.block_size));
  s.set("micro_batch", json::Value::integer(config_.micro_batch));
  s.set("world_size", json::Value::integer(config_.world_size));
  s.set("train_tokens", json::Value::integer(static_cast<int64_t>(train_tokens_)));
  return s;
}

DataLoader::SavedPosition DataLoader::saved_position(const json::Value& state, bool same_batch) const {
  const std::string& src = tokens_->source;
  if (!state.is_object()) throw DataError(src, setting_error("saved state is " + state.type_name() + ", not an object"));
  auto integer = [&](const char* key) -> int64_t {
    const json::Value* v = state.find(key);
    if (v == nullptr) throw DataError(src, setting_error(std::string("saved state has no \"") + key + "\""));
    if (!v->is_int() || v->as_int() < 0)
      throw DataError(src, setting_error(std::string("saved \"") + key + "\" is " + json::to_string(*v) +
                                         ", not a non-negative integer"));
    return v->as_int();
  };
  auto must_equal = [&](const char* key, const std::string& saved, const std::string& current) {
    if (saved != current)
      throw DataError(src, setting_error(std::string("the saved state has ") + key + " = " + saved + ", this run " +
                                         current + ": resuming would not continue the same batches"));
  };
  const json::Value* seed = state.find("seed");
  if (seed == nullptr || !seed->is_string())
    throw DataError(src, setting_error("saved state has no \"seed\" string"));
  must_equal("seed", seed->as_string(), std::to_string(config_.seed));
  must_equal("block_size", std::to_string(integer("block_size")), std::to_string(config_.block_size));
  SavedPosition saved;
  saved.micro_batch = integer("micro_batch");
  saved.world_size = integer("world_size");
  if (same_batch) {
    must_equal("micro_batch", std::to_string(saved.micro_batch), std::to_string(config_.micro_batch));
    must_equal("world_size", std::to_string(saved.world_size), std::to_string(config_.world_size));
  }
  must_equal("train_tokens", std::to_string(integer("train_tokens")), std::to_string(train_tokens_));
  saved.position = Position{static_cast<uint64_t>(integer("epoch")), static_cast<uint64_t>(integer("step"))};
  return saved;
}

void DataLoader::restore(const json::Value& state) { seek(saved_position(state, true).position); }

uint64_t DataLoader::continue_after(const json::Value& state) {
  const SavedPosition saved = saved_position(state, false);
  // Step s of an epoch has used windows [s * B * W, (s + 1) * B * W) of the epoch's order (rows_in):
  // the windows used so far are a count, whatever B and W were.
  const uint64_t used = saved.position.step * static_cast<uint64_t>(saved.micro_batch * saved.world_size);
  const uint64_t per_step = static_cast<uint64_t>(config_.micro_batch) * static_cast<uint64_t>(config_.world_size);
  uint64_t step = (used + per_step - 1) / per_step;  // the first step that uses none of them
  uint64_t skipped = step * per_step - used;
  Position p{saved.position.epoch, step};
  if (step >= steps_per_epoch_) {  // the rest of the epoch is shorter than a step: the next one begins
    skipped = train_windows_ > used ? train_windows_ - used : 0;
    p = Position{saved.position.epoch + 1, 0};
  }
  seek(p);
  return skipped;
}

}  // namespace tandem::data
