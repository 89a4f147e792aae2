// `tandem train RUN.json`: the run file and the training loop behind it.
//
// A run file names the model, the data, the DeepSpeed config and the run's length:
//
//   {
//     "model": {"type": "gpt", "params": {"n_layer": 4, "n_head": 4, "n_embd": 128,
//                                         "vocab_size": 256, "block_size": 128}},
//     "data": {"path": "kjv", "val_fraction": 0.05},   // "kjv": the Debian package's Bible, or
//                                      // {"train": "fineweb_train_*.bin", "val": "fineweb_val_*.bin"}
//     "deepspeed": "zero0.json",       // a path (relative to the run file) or the config inline
//     "ranks": 2,                      // thread-ranks
//     "steps": 300,                    // optimizer steps
//     "seq_len": 128,                  // tokens per row (default: the model's longest)
//     "micro_batch": 8,                // rows per rank and micro-step; fills an "auto"
//     "lr": 1e-3, "weight_decay": 0.1, "warmup_steps": 30,   // fill the config's "auto"s
//     "seed": 1234,
//     "eval_interval": 50, "eval_batches": 8,
//     "checkpoint_dir": "runs/tiny", "checkpoint_interval": 100,
//     "keep_checkpoints": 2,           // the newest N stay (a damaged newest falls back to the one before)
//     "max_nonfinite_steps": 10,       // inf/NaN-gradient steps in a row that stop the run (0: never)
//     "metrics": "runs/tiny/metrics.jsonl"
//   }
// Relative paths are relative to the run file's directory. docs/run-files.md has every key.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>
#include <thread>

#include "tandem/engine.hpp"
#include "tandem/json.hpp"

namespace tandem {

struct RunFile {
  std::string source;  // the run file's path, for messages
  ModelSpec model;
  std::filesystem::path data;          // the training data: a file, a glob of shards, or "kjv"
  std::filesystem::path val_data;      // the validation data (a file or a glob); empty: val_fraction of data
  std::string data_format = "auto";    // auto, text, llmc, raw
  double val_fraction = 0.05;          // 0 when val_data is given
  json::Value deepspeed;               // the config: its text is parsed as a DeepSpeed config
  std::string deepspeed_source;        // the config's file, or the run file for an inline one
  int64_t ranks = 1;
  // "cpu" (ranks are threads) or "cuda": the run on one GPU per process (AcceleratorOptions).
  RunDevice device = RunDevice::cpu;
  int64_t steps = 0;
  std::optional<int64_t> seq_len;
  std::optional<int64_t> micro_batch;
  std::optional<double> lr, weight_decay;
  std::optional<int64_t> warmup_steps;
  uint64_t seed = 1234;
  int64_t eval_interval = 0;  // 0: only at the end
  int64_t eval_batches = 8;
  std::filesystem::path checkpoint_dir;  // empty: no checkpoints
  int64_t checkpoint_interval = 0;       // 0: only at the end
  int64_t keep_checkpoints = 2;          // the newest this many stay; older ones go once a new one is whole
  // This many optimizer steps skipped in a row for non-finite gradients stop the run (0: never).
  int64_t max_nonfinite_steps = 10;
  std::filesystem::path metrics;         // empty: none
  std::filesystem::path cache_dir;       // where the default corpus is made (data_cache)
  std::filesystem::path init_from;       // initial weights: a .safetensors file (e.g. Hugging Face GPT-2)
};

// Reads and checks a run file; errors name the file, the key and its line:column.
RunFile load_run_file(const std::filesystem::path& path);

// A request to stop a run at the next optimizer-step boundary, with a checkpoint: set from any
// thread (a SignalWatcher, or a program that embeds the loop), polled by the loop.
class StopRequest {
 public:
  void request(int signo) {
    int none = 0;
    signo_.compare_exchange_strong(none, signo);
  }
  bool requested() const { return signo_.load() != 0; }
  int signal() const { return signo_.load(); }  // what asked: a signal number (0: none)

 private:
  std::atomic<int> signo_{0};
};

// "SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE" (the signals a SignalWatcher takes), else "signal N".
std::string stop_signal_name(int signo);

// While alive, SIGINT, SIGTERM, SIGHUP and SIGPIPE stop the run gracefully: the first one sets
// `stop` (the loop finishes its step, writes a checkpoint and returns), a second one (of any of them)
// ends the process at once with _exit(128 + signo), whatever the run's thread is blocked in. stdout
// or stderr being a pipe whose reader has gone counts as SIGPIPE (a write's own SIGPIPE goes to the
// writing thread, where it cannot be waited for). Construct it before any thread starts (threads
// inherit the signal mask it sets, so the signals reach only its watcher thread); the destructor
// restores the mask, and leaves SIGPIPE ignored if a pipe was found closed (the writes that remain
// then fail with EPIPE instead of killing the process on its way out).
class SignalWatcher {
 public:
  explicit SignalWatcher(StopRequest& stop);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  StopRequest& stop_;
  std::atomic<bool> done_{false};
  std::atomic<bool> pipe_seen_{false};  // a SIGPIPE taken, or a closed output pipe found
  std::thread watcher_;
  void* old_mask_;  // sigset_t, kept out of this header
};

// A checkpoint that could not be written (an unwritable directory, a full disk): what() names the
// path and the OS's reason. The partial directory is gone, the previous checkpoints are intact, and
// the engines in memory are untouched (a program can save them elsewhere).
class CheckpointWriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Too many optimizer steps in a row skipped for non-finite gradients (max_nonfinite_steps): the
// run is stopped without writing a checkpoint of that state; the previous checkpoint is intact.
class NonFiniteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TrainOptions {
  bool resume = false;        // continue from the newest checkpoint in checkpoint_dir
  // With resume: continue from this checkpoint (a step-N directory, of this run or another; read,
  // never changed) instead. Its stage and world size may differ from this run's (Engine::load).
  std::filesystem::path resume_from;
  bool overwrite = false;     // start over in a checkpoint_dir that holds a run; replace existing metrics
  bool progress = true;       // a progress bar on a terminal, plain lines otherwise
  // Build the models even where the memory check (estimate/run_memory.hpp) says they cannot fit.
  bool skip_memory_check = false;
  std::optional<int64_t> stop_after;  // stop after this optimizer step (tests: an interrupted run)
  const StopRequest* stop = nullptr;  // polled at each optimizer step; requested: checkpoint and return
  std::vector<std::filesystem::path> module_path;  // scanned after the default module directories
};

struct TrainSummary {
  int64_t steps = 0;                 // optimizer steps done, resumed ones included
  int64_t skipped_steps = 0;         // of those, skipped (fp16 overflow, non-finite gradients)
  std::optional<double> final_loss;  // the last micro-step's training loss; none when no step ran here
  std::optional<double> val_loss;    // at the end; none without validation batches (val_fraction 0)
  bool already_finished = false;     // resumed a run that had done all its steps: nothing was trained
  double unigram_baseline = 0;       // entropy of the training tokens' unigram distribution (nats)
  double tokens_per_second = 0;
  std::filesystem::path last_checkpoint;
  int interrupted_by = 0;            // the StopRequest's signal that ended the run early (0: it ran to the end)
};

TrainSummary train(const RunFile& run, const TrainOptions& options);

}  // namespace tandem
