// A directory of checkpoints, each whole or absent: a checkpoint is written into
// "step-<N>.partial-<pid>", its manifest (sizes and CRC-32C of every file,
// tandem/checkpoint_manifest.hpp) is written last, then it is renamed to "step-<N>" (a rename within a
// directory is atomic), and "latest" (a one-line file naming the newest) is replaced the same way.
// A crash at any moment leaves the previous checkpoints and "latest" as they were; leftover partial
// directories are ignored and removed by the next write. Reading verifies each candidate against its
// manifest, newest first, and skips a damaged one with the reason printed, so damage on disk (a torn
// write, a flipped byte, a truncated file) costs the steps since the previous checkpoint, never the run.
// The newest `keep` checkpoints are kept; older ones are removed only after a new one is complete.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <vector>

namespace tandem {

class CheckpointDir {
 public:
  explicit CheckpointDir(std::filesystem::path dir, int64_t keep = 2) : dir_(std::move(dir)), keep_(keep) {}

  const std::filesystem::path& path() const { return dir_; }

  // The newest whole checkpoint (of a step at most `at_most`, and at most the step "latest" names),
  // or nullopt if the directory holds no checkpoint. Each damaged one passed over is reported on
  // `log` ("checkpoint step-00000040 is damaged: <reason>; using step-00000030"). Throws
  // CheckpointError when checkpoints exist but none is whole (resuming from scratch would silently
  // lose the run).
  std::optional<std::filesystem::path> latest(std::ostream& log, std::optional<int64_t> at_most = std::nullopt) const;
  // The checkpoints of a step above `step`, newest first (whole or not): those a run resumed from an
  // older step would replace.
  std::vector<std::filesystem::path> newer_than(int64_t step) const;
  // Runs fill(dir) on a fresh partial directory, writes its manifest and publishes it as
  // step-<step>; then removes checkpoints beyond the newest `keep` (and any of a later step, left by
  // an abandoned run). Any failure throws CheckpointWriteError (tandem/train.hpp) naming the path and
  // the OS's reason, after removing the partial directory: the previous checkpoints stay as they were.
  std::filesystem::path write(int64_t step, const std::function<void(const std::filesystem::path&)>& fill);

 private:
  std::filesystem::path dir_;
  int64_t keep_;
};

// The step of a directory named "step-<N>" (exactly), else nullopt.
std::optional<int64_t> checkpoint_step(const std::filesystem::path& dir);

// Keeps only the lines of a JSONL metrics file whose "step" is at most `step` (a resumed run writes
// the steps after its checkpoint again). A missing file is fine.
void truncate_metrics_after(const std::filesystem::path& file, int64_t step);

}  // namespace tandem
