// Pieces of a training loop that `tandem train` and `tandem distill` share: the data per rank, the
// validation batches, the unigram baseline, the metrics record, and the trainer's state in a
// checkpoint (each rank's loader position, beside the engine's files).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <optional>
#include <string>
#include <vector>

#include "io/regular_file.hpp"
#include "monitor/monitors.hpp"
#include "tandem/accelerator.hpp"
#include "tandem/data.hpp"
#include "tandem/train.hpp"

namespace tandem {

// The run's DeepSpeed config: inline (json::Value object) or the file at `source`.
DeepSpeedConfig load_deepspeed(const json::Value& inline_config, const std::string& source);

// What prepare() learns from a run file: the model, the data's batch size and the run's facts that
// fill the config's "auto" values (lr, weight decay, warm-up and total steps).
PrepareInputs prepare_inputs(const RunFile& run);

// The config's warnings as prepare() resolved it (features tandem ignores, a gradient accumulation
// the config overrides, ...), printed once per run by the process of global rank 0.
void print_config_warnings(const Prepared& prepared);

// The run's data files, checked before a model is built: data.train's (one, or the shards its glob
// matches, in order) and data.val's (none without it). DataError for a missing file or an empty glob.
struct RunDataFiles {
  std::vector<std::filesystem::path> train, val;
};
RunDataFiles run_data_files(const RunFile& run);

// The run's tokens: the training files' in order, then the validation files' (Tokens::val_from where
// they begin); the default corpus is made in run.cache_dir when data is "kjv". A warning on stderr when
// the model's vocabulary is far larger than the data's (data::vocab_size_warning).
std::shared_ptr<const data::Tokens> load_run_tokens(const RunFile& run, uint32_t vocab_size);

// One loader per rank this process plays, over the same tokens: global rank first_rank + r of the
// engine's world (run.ranks thread-ranks on the CPU; one rank of WORLD_SIZE processes on GPUs), `seq`
// tokens a row, `micro_batch` rows a batch. Refuses what a multi-process run cannot do yet.
std::vector<data::DataLoader> make_loaders(const RunFile& run, const Engine& engine,
                                           std::shared_ptr<const data::Tokens> tokens, int64_t seq, int64_t micro_batch);

// Entropy (nats) of the training tokens' unigram distribution: the loss of a model that ignores
// context, which a trained model must beat.
double unigram_entropy(const std::vector<uint16_t>& ids, uint64_t count);

// One batch per rank, from each rank's loader.
std::vector<TokenBatch> next_batches(std::vector<data::DataLoader>& loaders);
// The first `count` validation steps (fewer if the split has fewer), one batch per rank each.
std::vector<std::vector<TokenBatch>> validation_batches(const std::vector<data::DataLoader>& loaders, int64_t count,
                                                        const std::string& source);

// A number for a metrics line: JSON has no inf or NaN, so those are null (the line stays parsable,
// and a resumed run keeps it).
json::Value metric_number(double v);

// One metrics line's fields: step, loss, lr, grad_norm, tokens_per_s, skipped, time_s, val_loss.
// A metrics line that could not be written (a full disk): CheckpointWriteError, which ends the run as a
// checkpoint that cannot be written does (exit 3), with the OS's reason.
[[noreturn]] void throw_metrics_write_error(const std::filesystem::path& metrics);

// The metrics file opened for appending lines (created if absent). Checked on the open descriptor, so
// that a FIFO, device or link put at the path after RunOutputs looked is refused too (std::invalid_argument,
// exit 2) and never blocks the run; a file that cannot be opened is a CheckpointWriteError (exit 3).
io::RegularFile open_metrics(const std::filesystem::path& metrics, const std::string& source);

// Also "timestamp": when the line was written, ISO 8601 in UTC with milliseconds
// ("2026-12-07T23:22:55.123Z"), so that runs can be lined up in time (docs/run-files.md).
json::Value metrics_record(int64_t step, const StepReport& r, double tokens_per_s, std::optional<double> val);

// The monitors (csv_monitor, tensorboard) of `engine`'s config for the run file `run_source`,
// written by the process of global rank 0 (monitor/monitors.hpp).
monitor::Monitors make_monitors(const Engine& engine, const std::string& run_source, const TrainOptions& options);

// Counts optimizer steps skipped in a row for non-finite gradients (fp16 loss-scaler overflows, which
// the scaler handles, do not count): each such step is a warning on stderr naming the step and the
// norm; `limit` in a row (0: no limit) throw NonFiniteError naming the steps and the newest checkpoint.
class NonFiniteStreak {
 public:
  NonFiniteStreak(std::string source, int64_t limit) : source_(std::move(source)), limit_(limit) {}
  // `label` names the model in messages of multi-model runs ("" for one model).
  void observe(int64_t step, const StepReport& report, const std::filesystem::path& newest_checkpoint,
               const std::string& label = "");
  int64_t count() const { return count_; }

 private:
  std::string source_;
  int64_t limit_;
  int64_t count_ = 0;
};

// trainer.json in a checkpoint: the step, each rank's loader state and the run file.
void write_trainer_state(const std::filesystem::path& dir, int64_t step, const std::vector<data::DataLoader>& loaders,
                         const std::string& run_source);
// Puts each loader back where the checkpoint's trainer.json says.
void restore_loaders(const std::filesystem::path& checkpoint, std::vector<data::DataLoader>& loaders);

}  // namespace tandem
