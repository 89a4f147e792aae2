// DeepSpeed's monitors, for one model of a run: the `csv_monitor` and `tensorboard` blocks of its
// config. Each optimizer step writes DeepSpeed's events with DeepSpeed's names and its x axis, the
// samples seen so far (global_steps x train_batch_size, engine.py's global_samples):
//   Train/Samples/train_loss, Train/Samples/lr, Train/Samples/loss_scale (fp16 only), and
//   Train/Samples/val_loss at each evaluation (tandem's: DeepSpeed's engine does not evaluate).
// Only the process of global rank 0 writes (as DeepSpeed's dist.get_rank() == 0).
//
// Nothing a user has is lost. csv_monitor writes <log_dir>/Train_Samples_train_loss.csv ... (the
// name with '/' and ' ' made '_', a header "step,train_loss"): a run that neither resumes nor
// overwrites refuses a file that is there; a resumed one keeps the rows up to its checkpoint and
// appends; --overwrite replaces them. tensorboard writes a new event file every run
// (events.out.tfevents.<time>.<host>) and never opens an old one: a fresh run refuses a directory
// that holds event files, and a resumed or overwriting run writes a SessionLog START at its first
// step, by which TensorBoard drops the older files' events from that step on.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "monitor/monitor_config.hpp"
#include "tandem/json.hpp"

namespace tandem::monitor {

class EventFileWriter;
class CsvMonitor;

struct MonitorSetup {
  const json::Value* config_tree = nullptr;  // the model's resolved DeepSpeed config
  std::string config_source;
  std::filesystem::path base;  // the run file's directory
  std::string run_source;      // the run file, for messages
  bool rank0 = true;
  bool resume = false;
  bool overwrite = false;
  bool fp16 = false;             // loss_scale is logged
  int64_t train_batch_size = 1;  // samples per optimizer step
};

class Monitors {
 public:
  // Reads the blocks and claims their outputs; throws std::invalid_argument (exit 2) for a bad block
  // or an earlier run's files, CheckpointWriteError (exit 3) for a directory that cannot be written.
  explicit Monitors(const MonitorSetup& setup);
  ~Monitors();
  Monitors(Monitors&&) noexcept;
  Monitors& operator=(Monitors&&) noexcept;

  // After resuming (or not) at `global_steps`: drops later CSV rows, opens the files. Call once.
  void start(int64_t global_steps);
  // One optimizer step's events.
  void write_step(int64_t step, double loss, double lr, double loss_scale, std::optional<double> val_loss);

  bool any() const { return csv_.enabled || tensorboard_.enabled; }
  const MonitorBlock& csv() const { return csv_; }
  const MonitorBlock& tensorboard() const { return tensorboard_; }

 private:
  MonitorSetup setup_;
  MonitorBlock csv_, tensorboard_;
  std::vector<std::string> tags_;  // the CSV files' events, in order
  std::unique_ptr<CsvMonitor> csv_writer_;
  std::unique_ptr<EventFileWriter> events_;
};

// Two models of one run whose monitors would write the same directory: std::invalid_argument naming
// both and what to change (a job_name of their own).
void refuse_shared_log_dirs(const std::vector<std::pair<std::string, const Monitors*>>& models,
                            const std::string& run_source);

}  // namespace tandem::monitor
