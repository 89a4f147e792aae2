// An engine checkpoint as it lies on disk (docs/checkpoints.md), read without any module: what
// engine.json says (stage, world size, counters, the flat layout of the optimizer groups) and each
// per-rank state put back together across the ranks that wrote it.
//
// Every rank file holds, for each optimizer group g, "master.<g>": the rank's part of group g's flat,
// padded buffer (tandem/flat_layout.hpp), which starts at metadata "master.<g>.offset" of a buffer of
// "master.<g>.padded" elements; under ZeRO-0 the whole buffer (offset 0), under ZeRO-1..3 slice r. Each
// optimizer state "optimizer.<name>" (exp_avg, exp_avg_sq, ...) is the concatenation, in group order,
// of the same parts: section g has master.<g>'s length and lies where master.<g> lies. So one rule
// gathers the master weights and every optimizer state, whatever the stage and world that wrote them:
// each rank's part at its offset, parts that overlap agreeing bit for bit, the real (unpadded)
// elements [0, numel) covered. That unpadded vector per group is the same for every topology; loading
// under another one cuts it by the new layout's offsets (Engine::load).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tandem/json.hpp"
#include "tandem/safetensors.hpp"

namespace tandem::checkpoint {

struct SavedParam {
  std::string name;
  std::vector<int64_t> shape;
  size_t group = 0;
  size_t offset = 0;  // in its group's buffer
  size_t numel() const;
};

struct SavedGroup {
  size_t numel = 0;   // real elements
  size_t padded = 0;  // the buffer, padded to a multiple of the world size that wrote it
};

// engine.json, checked: a field that is missing or mistyped throws CheckpointError with the file's
// line:column and JSON path.
struct SavedEngine {
  std::filesystem::path dir;
  std::string engine;  // the engine's name ("model", "student", ...)
  int64_t version = 0;
  int64_t stage = 0;
  int64_t world_size = 1;
  bool has_optimizer = false;
  int64_t global_steps = 0, skipped_steps = 0, taken_steps = 0, micro_steps = 0;
  std::vector<SavedGroup> groups;
  std::vector<SavedParam> params;
  json::Document doc;  // the whole file, for the keys only an engine reads (scheduler, loss scaler)

  static SavedEngine read(const std::filesystem::path& dir);
  std::filesystem::path rank_file(int64_t rank) const;
  // The optimizer state names rank 0's file holds ("exp_avg", ...), in its order; none without state.
  std::vector<std::string> optimizer_state_names() const;
};

// The rank files of a checkpoint, opened once, and the parts of each group they hold.
class SavedShards {
 public:
  explicit SavedShards(const SavedEngine& saved);

  // The real elements [0, numel) of group g of `state` ("master" or an optimizer state's name),
  // gathered from every rank's part. Throws CheckpointError naming the file: a part past its buffer,
  // two ranks that disagree on an element, an element no rank holds, a state of the wrong length.
  std::vector<float> gather(const std::string& state, size_t g) const;

 private:
  struct Part {
    size_t offset = 0;         // in the group's buffer
    size_t length = 0;         // elements
    size_t state_offset = 0;   // where this group's section starts in an optimizer state tensor
  };
  const SavedEngine& saved_;
  std::vector<safetensors::File> files_;
  std::vector<std::vector<Part>> parts_;  // [rank][group]
};

}  // namespace tandem::checkpoint
