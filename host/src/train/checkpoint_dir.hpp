// A directory of checkpoints, each whole or absent: a checkpoint is written into
// "step-<N>.partial-<pid>", then renamed to "step-<N>" (a rename within a directory is atomic), and
// "latest" (a one-line file naming the newest) is replaced the same way. A crash at any moment
// leaves the previous checkpoint and "latest" as they were; leftover partial directories are ignored
// and removed by the next write.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>

namespace tandem {

class CheckpointDir {
 public:
  explicit CheckpointDir(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // The newest whole checkpoint, or nullopt if there is none. A "latest" that names a missing
  // directory is an error (the checkpoint was deleted by hand).
  std::optional<std::filesystem::path> latest() const;
  // Runs fill(dir) on a fresh partial directory and publishes it as step-<step>; returns its path.
  std::filesystem::path write(int64_t step, const std::function<void(const std::filesystem::path&)>& fill);

 private:
  std::filesystem::path dir_;
};

// Keeps only the lines of a JSONL metrics file whose "step" is at most `step` (a resumed run writes
// the steps after its checkpoint again). A missing file is fine.
void truncate_metrics_after(const std::filesystem::path& file, int64_t step);

}  // namespace tandem
