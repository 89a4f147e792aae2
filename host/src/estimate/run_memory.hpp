// Whether a run's models can fit in this process's memory, settled before any of them is built: a
// model or batch too large for the machine (or for the limits the process runs under) is refused
// with both sizes instead of ending in the kernel's OOM killer or a std::bad_alloc mid-build.
//
// What a model needs is the model states `tandem estimate` prints (parameters, gradients, master
// weights, Adam moments per ZeRO stage, estimate.hpp) plus the activations of one micro-batch; for
// a CPU run every rank is a thread of this process, so each rank's share is counted. The estimate's
// host-side buffer factor is left out (1.0): the figure is what the run needs at the least, so a
// refusal is never a run that would have fitted. Activations are counted for the `gpt` model only
// (from its config: B, T, n_embd, n_layer, n_head, vocab, as the module's own buffers are sized,
// modules/model/gpt/gpt_model.cpp); other model types are not checked (their size is not known
// before they are built). GPU runs are not checked here: their model states live in GPU memory.
//
// What is available is the least of: MemAvailable (/proc/meminfo); RLIMIT_AS and RLIMIT_DATA less
// what the process already maps; the cgroup's memory.max less its memory.current, for the process's
// cgroup and each parent (cgroup v2).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/config.hpp"
#include "tandem/engine.hpp"

namespace tandem {

// The refusal: bad input (exit 2), naming both sizes and what to do.
class MemoryRefusal : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// One model of a run, as the run file and its DeepSpeed config give it (before "auto" is resolved).
struct ModelMemoryInputs {
  std::string label;                 // "model", "student", "teacher", or a multi-model run's name
  const ModelSpec* model = nullptr;
  const DeepSpeedConfig* config = nullptr;
  bool trains = true;                // false: a frozen teacher (inference activations, no optimizer state)
  int64_t ranks = 1;                 // thread-ranks in this process
  std::optional<int64_t> micro_batch;  // the run file's; else the config's integer, else 1
  std::optional<int64_t> seq;          // the run file's seq_len; else the model's block_size
};

struct ModelMemoryNeed {
  std::string label;
  double params = 0;          // the parameter count
  uint64_t model_states = 0;  // all of this process's ranks
  uint64_t activations = 0;   // all of this process's ranks
  std::string how;            // "ZeRO-0, fp32, 2 ranks; activations for 2 ranks x 2 rows x 16 tokens"
};

// nullopt where the model is not one whose size is known before it is built (not "gpt").
std::optional<ModelMemoryNeed> model_memory_need(const ModelMemoryInputs& in);

struct MemoryBound {
  uint64_t bytes = 0;
  std::string what;  // "MemAvailable in /proc/meminfo", "RLIMIT_AS (ulimit -v) 1.0 GiB less 200.0 MiB mapped"
};
// Every bound that applies to this process now (none if none can be read).
std::vector<MemoryBound> memory_bounds();

// Throws MemoryRefusal when the models' needs together exceed the least bound; `source` (the run file)
// starts the message.
void check_run_memory(const std::vector<ModelMemoryInputs>& models, const std::string& source);

}  // namespace tandem
