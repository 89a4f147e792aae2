// DeepSpeed's batch triple: train_batch_size = train_micro_batch_size_per_gpu *
// gradient_accumulation_steps * world_size. Any one or two of the three may be left out and are
// derived with integer floor division, exactly as DeepSpeed's DeepSpeedConfig does
// (_set_batch_related_parameters, then _batch_assertion):
//   train + micro given   -> gas   = train // micro // world
//   train + gas given     -> micro = train // world // gas
//   micro + gas given     -> train = micro * gas * world
//   only train            -> gas = 1, micro = train // world
//   only micro            -> gas = 1, train = micro * world
//   neither train nor micro: an error
// and then all three must be > 0 and train == micro * gas * world.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tandem/json.hpp"

namespace tandem {

struct BatchTriple {
  int64_t train_batch_size = 0;
  int64_t micro_batch_per_gpu = 0;
  int64_t gradient_accumulation_steps = 0;
  int64_t world_size = 1;
};

// The three keys as a config gives them (nullopt = not given) and where each was written, for the
// messages.
struct BatchKeys {
  std::optional<int64_t> train_batch_size;
  std::optional<int64_t> micro_batch_per_gpu;
  std::optional<int64_t> gradient_accumulation_steps;
  json::Position train_position, micro_position, gas_position;
  json::Position root_position;  // where the config's top-level object starts
};

struct BatchDerivation {
  BatchTriple triple;
  // For each key that was derived rather than given: how (e.g. "train_batch_size //
  // train_micro_batch_size_per_gpu // world_size = 32 // 8 // 2 = 2"); empty if it was given.
  std::string train_how, micro_how, gas_how;
};

// Derives the missing keys and checks the triple for `world_size` (>= 1, else std::invalid_argument).
// Throws ConfigError (tandem/config_error.hpp) naming the keys, their positions in `source`, and
// the arithmetic; every failed check is reported, not just the first.
BatchDerivation derive_batch_triple(const BatchKeys& keys, int64_t world_size, const std::string& source);

}  // namespace tandem
