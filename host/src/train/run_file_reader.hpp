// Reading run files: the checks every key gets (type, range, a path relative to the run file) and
// the sections that `tandem train` and `tandem distill` share (a model, a DeepSpeed config, the data
// and the training loop's keys). Every error names the file, the key's JSON path and its line:column.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

#include "tandem/json.hpp"
#include "tandem/train.hpp"

namespace tandem {

class RunFileReader {
 public:
  // `doc` is the run file read from `file`; its root must be an object (std::invalid_argument).
  RunFileReader(const json::Document& doc, const std::filesystem::path& file);

  const json::Document& document() const { return doc_; }
  const std::filesystem::path& base() const { return base_; }  // the run file's directory

  [[noreturn]] void fail(const json::Value& at, const std::string& message) const;

  // A key of the root object; each key asked for counts as known for refuse_unknown_keys().
  const json::Value* get(const char* key);
  const json::Value& required(const char* key);
  // Fails on the first root key never asked for, listing `known` (the keys of this kind of file).
  void refuse_unknown_keys(const std::string& known) const;
  // Fails on the first key of `object` that is not in `allowed` (space-separated).
  void refuse_unknown_members(const json::Value& object, const std::string& allowed, const std::string& what) const;

  int64_t integer(const json::Value& v, int64_t min) const;
  double number(const json::Value& v, double min, double max) const;
  bool boolean(const json::Value& v) const;
  std::string string(const json::Value& v) const;
  // A path relative to the run file's directory (or absolute), normalised.
  std::filesystem::path path(const json::Value& v) const;

 private:
  const json::Document& doc_;
  std::filesystem::path base_;
  std::set<std::string> seen_;
};

// {"type": "gpt", "params": {...}}; the seed is left to the caller.
ModelSpec read_model(const RunFileReader& in, const json::Value& model, const std::string& source);

// A DeepSpeed config given inline (an object: kept in `inline_config`, `source` = the run file) or
// as a path (`source` = the resolved path, `inline_config` left null).
void read_deepspeed(const RunFileReader& in, const json::Value& value, const std::string& run_source,
                    json::Value& inline_config, std::string& source);

// The keys of a training run besides its model and config: data, ranks, steps, seq_len,
// micro_batch, lr, weight_decay, warmup_steps, seed, eval_interval, eval_batches, checkpoint_dir,
// checkpoint_interval, keep_checkpoints, max_nonfinite_steps, metrics, data_cache, init_from. Sets run.model.seed from "seed".
void read_training_keys(RunFileReader& in, RunFile& run);
inline constexpr const char* kTrainingKeys =
    "data, device, ranks, steps, seq_len, micro_batch, lr, weight_decay, warmup_steps, seed, eval_interval, eval_batches, "
    "checkpoint_dir, checkpoint_interval, keep_checkpoints, max_nonfinite_steps, metrics, data_cache, init_from";

}  // namespace tandem
