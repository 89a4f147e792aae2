// `tandem checkpoint consolidate DIR OUT.safetensors`: one full fp32 model from an engine checkpoint.
//
// An engine checkpoint (Engine::save) holds each rank's fp32 master shard of each optimizer group
// (rank<R>.safetensors, "master.<g>", with "master.<g>.offset" and "master.<g>.padded" in the
// metadata: where the shard lies in the group's flat, padded buffer) and, in engine.json, the flat
// layout (each parameter's group and offset in that buffer, tandem/flat_layout.hpp). Consolidating
// puts the shards back into each group's buffer (they must cover it exactly; where ranks hold the
// same elements, as under ZeRO-0, they must agree bit for bit) and cuts the parameters out of it, so
// the result is the fp32 master weights, whatever the stage and the world size. A checkpoint without
// optimizer state (a forward-only engine's) has no shards: its model.safetensors is the model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace tandem {

// A checkpoint that cannot be consolidated; what() names the file and what is wrong.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ConsolidateReport {
  int64_t stage = 0;
  int64_t world_size = 0;
  size_t tensors = 0;
  int64_t parameters = 0;    // elements
  bool from_shards = false;  // false: copied from model.safetensors (no optimizer state)
};

// The fp32 weights of a checkpoint, as consolidate writes them, in the model's order.
struct CheckpointWeights {
  std::filesystem::path checkpoint;  // the step-N directory they came from
  ConsolidateReport report;
  std::vector<std::string> names;    // Hugging Face's
  std::vector<std::vector<int64_t>> shapes;
  std::vector<std::vector<float>> values;
};

// Reads them from `dir` (a checkpoint, or a checkpoint_dir with a `latest` pointer), its manifest
// verified first where it has one. Throws CheckpointError naming the file and what is wrong.
CheckpointWeights read_checkpoint_weights(const std::filesystem::path& dir);

// Writes `out` (atomically) with every parameter in fp32 under its Hugging Face name. `dir` may
// also be a checkpoint_dir with a `latest` pointer. Throws CheckpointError, and std::invalid_argument
// when `out` is not a regular file, is one of the checkpoint's own files, or exists and `overwrite`
// is false (before anything is written).
ConsolidateReport consolidate_checkpoint(const std::filesystem::path& dir, const std::filesystem::path& out,
                                         bool overwrite = false);

}  // namespace tandem
