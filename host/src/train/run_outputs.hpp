// What a run may do to the paths it is given, settled before its first step (nothing a user has is
// lost: a run writes only into outputs it owns):
//   - the checkpoint directory is a directory (made if absent) that this process can write, locked for
//     the whole run (flock on <dir>/.lock, which holds the owner's pid), and holding no earlier run's
//     checkpoints unless the run resumes (--resume) or starts over on purpose (--overwrite);
//   - the metrics file is a regular file or absent, and an existing one is written only by a run that
//     resumes (it truncates the lines after its checkpoint) or overwrites.
// Refusals throw std::invalid_argument (bad input: exit 2) naming the path and what to do; a directory
// that cannot be made or written throws CheckpointWriteError (exit 3) with the OS's reason.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tandem/train.hpp"

namespace tandem {

struct RunOutputPaths {
  std::filesystem::path lock_dir;                    // the run's checkpoint_dir; empty: none
  std::vector<std::filesystem::path> checkpoint_dirs; // where its checkpoints go (each model's, for several)
  std::filesystem::path metrics;                     // empty: none
};

// A CPU run's ranks are threads of one process, and its checkpoints are written by that process alone:
// started by a launcher (tandem launch, torchrun, mpirun, srun) as one of several processes, each
// would train the same run and write the same checkpoint_dir and metrics. Throws std::invalid_argument
// (exit 2) naming the launcher's variables then; a GPU run (one rank a process) passes.
void refuse_cpu_run_of_several_processes(RunDevice device, int64_t ranks, const std::string& source);

class RunOutputs {
 public:
  // `source` (the run file) starts each message.
  RunOutputs(const RunOutputPaths& paths, bool resume, bool overwrite, const std::string& source);
  ~RunOutputs();
  RunOutputs(const RunOutputs&) = delete;
  RunOutputs& operator=(const RunOutputs&) = delete;

 private:
  int lock_fd_ = -1;
};

}  // namespace tandem
