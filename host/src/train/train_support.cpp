// Pieces shared by the training loops of `tandem train` and `tandem distill` (train_support.hpp).
#include "train/train_support.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>

#include "io/atomic_file.hpp"

namespace tandem {

namespace {

data::TokenFormat token_format(const std::string& name) {
  if (name == "text") return data::TokenFormat::Text;
  if (name == "llmc") return data::TokenFormat::LlmC;
  if (name == "raw") return data::TokenFormat::Raw;
  return data::TokenFormat::Auto;
}

}  // namespace

DeepSpeedConfig load_deepspeed(const json::Value& inline_config, const std::string& source) {
  if (inline_config.is_object()) return DeepSpeedConfig(json::Document{source, inline_config});
  return load_config_file(source);
}

void print_config_warnings(const Prepared& prepared) {
  if (prepared.engine() != nullptr && prepared.engine()->first_rank() != 0) return;
  for (const ConfigIssue& w : prepared.config().warnings) std::cerr << "tandem: warning: " << w.to_string() << "\n";
}

PrepareInputs prepare_inputs(const RunFile& run) {
  PrepareInputs inputs;
  inputs.model = run.model;
  inputs.micro_batch = run.micro_batch;
  inputs.lr = run.lr;
  inputs.weight_decay = run.weight_decay;
  inputs.warmup_steps = run.warmup_steps;
  inputs.total_steps = run.steps;
  return inputs;
}

RunDataFiles run_data_files(const RunFile& run) {
  RunDataFiles files;
  if (run.data != "kjv") files.train = data::expand_shards(run.data, "the run file's data.train");
  if (!run.val_data.empty()) files.val = data::expand_shards(run.val_data, "the run file's data.val");
  return files;
}

std::shared_ptr<const data::Tokens> load_run_tokens(const RunFile& run, uint32_t vocab_size) {
  RunDataFiles files = run_data_files(run);
  if (run.data == "kjv") files.train = {data::kjv_text(run.cache_dir)};
  const data::TokenFormat format = token_format(run.data_format);
  data::Tokens tokens = data::load_token_shards(files.train, vocab_size, format);
  if (!files.val.empty()) {
    const data::Tokens val = data::load_token_shards(files.val, vocab_size, format);
    tokens.val_from = tokens.ids.size();
    tokens.ids.insert(tokens.ids.end(), val.ids.begin(), val.ids.end());
    tokens.source += " (validation: " + val.source + ")";
  }
  if (const std::string warning = data::vocab_size_warning(vocab_size, tokens); !warning.empty())
    std::cerr << "tandem: warning: " << warning << "\n";
  return std::make_shared<const data::Tokens>(std::move(tokens));
}

std::vector<data::DataLoader> make_loaders(const RunFile& run, const Engine& engine,
                                           std::shared_ptr<const data::Tokens> tokens, int64_t seq, int64_t micro_batch) {
  const int32_t world = engine.world_size();
  if (world > engine.local_ranks() && !run.checkpoint_dir.empty())
    throw std::invalid_argument(run.source + ": checkpoint_dir with " + std::to_string(world) +
                                " processes: checkpoints of a run over several processes are not written yet (each "
                                "process would write the same files); leave checkpoint_dir out");
  std::vector<data::DataLoader> loaders;
  for (int32_t r = 0; r < engine.local_ranks(); ++r)
    loaders.emplace_back(tokens, data::LoaderConfig{seq, micro_batch, engine.first_rank() + r, world, run.seed,
                                                    run.val_fraction, tokens->val_from});
  return loaders;
}

double unigram_entropy(const std::vector<uint16_t>& ids, uint64_t count) {
  std::vector<uint64_t> freq(65536, 0);
  for (uint64_t i = 0; i < count; ++i) ++freq[ids[i]];
  double h = 0;
  for (uint64_t f : freq)
    if (f > 0) {
      const double p = static_cast<double>(f) / static_cast<double>(count);
      h -= p * std::log(p);
    }
  return h;
}

void throw_metrics_write_error(const std::filesystem::path& metrics) {
  const int why = errno;
  throw CheckpointWriteError("cannot write metrics to " + metrics.string() + ": " +
                             (why != 0 ? std::strerror(why) : "the write failed") +
                             "; the checkpoints written so far are intact");
}

io::RegularFile open_metrics(const std::filesystem::path& metrics, const std::string& source) {
  try {
    return io::RegularFile::open_for_appending(metrics);
  } catch (const io::FileRefusal& e) {
    if (e.why() == io::FileRefusal::Why::not_regular)
      throw std::invalid_argument(source + ": metrics " + metrics.string() + " " + e.reason() +
                                  "; metrics go to a regular file (or a path that does not exist yet)");
    throw CheckpointWriteError("cannot write metrics to " + metrics.string() + ": " + e.reason());
  }
}

std::vector<TokenBatch> next_batches(std::vector<data::DataLoader>& loaders) {
  std::vector<TokenBatch> out(loaders.size());
  for (size_t r = 0; r < loaders.size(); ++r) {
    data::Batch b = loaders[r].next();
    out[r] = TokenBatch{std::move(b.inputs), std::move(b.targets), b.batch, b.block};
  }
  return out;
}

std::vector<std::vector<TokenBatch>> validation_batches(const std::vector<data::DataLoader>& loaders, int64_t count,
                                                        const std::string& source) {
  std::vector<std::vector<TokenBatch>> out;
  const uint64_t available = loaders.front().val_batches();
  // (A validation split too small for one batch a rank is refused by the loader.)
  if (available > 0 && available < static_cast<uint64_t>(count))
    std::cerr << "tandem: warning: " << source << ": eval_batches " << count << " is more than the " << available
              << " validation batches the data holds: using " << available << "\n";
  for (uint64_t i = 0; i < std::min<uint64_t>(available, static_cast<uint64_t>(count)); ++i) {
    std::vector<TokenBatch> step(loaders.size());
    for (size_t r = 0; r < loaders.size(); ++r) {
      data::Batch b;
      loaders[r].val_batch(i, b);
      step[r] = TokenBatch{std::move(b.inputs), std::move(b.targets), b.batch, b.block};
    }
    out.push_back(std::move(step));
  }
  return out;
}

json::Value metric_number(double v) { return std::isfinite(v) ? json::Value::number(v) : json::Value::null(); }

namespace {

std::string utc_timestamp_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(ms));
  return text;
}

}  // namespace

monitor::Monitors make_monitors(const Engine& engine, const std::string& run_source, const TrainOptions& options) {
  monitor::MonitorSetup setup;
  setup.config_tree = &engine.config().tree;
  setup.config_source = engine.config().source;
  const std::filesystem::path run_dir = std::filesystem::path(run_source).parent_path();
  setup.base = run_dir.empty() ? std::filesystem::path(".") : run_dir;
  setup.run_source = run_source;
  setup.rank0 = engine.first_rank() == 0;
  setup.resume = options.resume;
  setup.overwrite = options.overwrite;
  setup.fp16 = engine.config().fp16.enabled;
  setup.train_batch_size = engine.config().batch.train_batch_size;
  return monitor::Monitors(setup);
}

json::Value metrics_record(int64_t step, const StepReport& r, double tokens_per_s, std::optional<double> val) {
  json::Value line = json::Value::object();
  line.set("step", json::Value::integer(step));
  line.set("timestamp", json::Value::string(utc_timestamp_now()));
  line.set("loss", metric_number(r.loss));
  line.set("lr", json::Value::number(r.lr));
  line.set("grad_norm", metric_number(r.grad_norm));
  line.set("tokens_per_s", metric_number(tokens_per_s));
  line.set("skipped", json::Value::boolean(!r.stepped));
  line.set("loss_scale", json::Value::number(r.loss_scale));  // fp16's loss scale (1 otherwise)
  json::Value time = json::Value::object();
  time.set("forward", json::Value::number(r.time.forward));
  time.set("backward", json::Value::number(r.time.backward));
  time.set("communication", json::Value::number(r.time.communication));
  time.set("optimizer", json::Value::number(r.time.optimizer));
  line.set("time_s", std::move(time));
  if (val) line.set("val_loss", metric_number(*val));
  return line;
}

void NonFiniteStreak::observe(int64_t step, const StepReport& report, const std::filesystem::path& newest_checkpoint,
                              const std::string& label) {
  if (!report.boundary) return;
  if (!report.nonfinite || report.scaler_overflow) {
    count_ = 0;
    return;
  }
  ++count_;
  const std::string who = label.empty() ? "" : label + ": ";
  std::cerr << "tandem: warning: " << who << "step " << step << ": non-finite gradient norm (" << report.grad_norm
            << "); the step was skipped (" << count_ << " in a row"
            << (limit_ > 0 ? "; the run stops at " + std::to_string(limit_) : std::string()) << ")\n";
  if (limit_ > 0 && count_ >= limit_)
    throw NonFiniteError(source_ + ": " + who + std::to_string(count_) + " optimizer steps in a row (steps " +
                         std::to_string(step - count_ + 1) + " to " + std::to_string(step) +
                         ") had non-finite gradients and were skipped (max_nonfinite_steps " + std::to_string(limit_) +
                         "); stopped without a checkpoint of this state; " +
                         (newest_checkpoint.empty() ? std::string("no checkpoint was written by this run")
                                                    : "the newest checkpoint, " + newest_checkpoint.string() +
                                                          ", is intact") +
                         ". Lower the learning rate, check the data and the initial weights, or enable gradient clipping");
}

void write_trainer_state(const std::filesystem::path& dir, int64_t step, const std::vector<data::DataLoader>& loaders,
                         const std::string& run_source) {
  json::Value trainer = json::Value::object();
  trainer.set("step", json::Value::integer(step));
  json::Value states = json::Value::array();
  for (const data::DataLoader& l : loaders) states.push_back(l.state());
  trainer.set("loaders", std::move(states));
  trainer.set("run_file", json::Value::string(run_source));
  const std::string text = json::to_string(trainer, true) + "\n";
  io::write_atomically(dir / "trainer.json", [&](io::FileSink& sink) { sink.write(text.data(), text.size()); });
}

void restore_loaders(const std::filesystem::path& checkpoint, std::vector<data::DataLoader>& loaders) {
  const std::filesystem::path file = checkpoint / "trainer.json";
  if (!std::filesystem::exists(file))
    throw std::invalid_argument(file.string() + ": missing: the checkpoint holds no data position (was it written by "
                                "Engine::save rather than tandem train or distill?); nothing was loaded into the run");
  const json::Document trainer = json::parse_file(file);
  const json::Value* states = trainer.root.find("loaders");
  if (states == nullptr || !states->is_array() || states->items().empty())
    throw std::runtime_error(file.string() + ": no loader state per rank");
  const json::Value& first = states->items().front();
  const json::Value* world = first.find("world_size");
  const json::Value* micro = first.find("micro_batch");
  const bool same_batch = world != nullptr && micro != nullptr && world->is_int() && micro->is_int() &&
                          world->as_int() == loaders.front().config().world_size &&
                          micro->as_int() == loaders.front().config().micro_batch;
  if (same_batch) {
    if (states->items().size() != loaders.size()) throw std::runtime_error(file.string() + ": no loader state per rank");
    for (size_t r = 0; r < loaders.size(); ++r) loaders[r].restore(states->items()[r]);
    return;
  }
  // Another world size or micro batch (a checkpoint resumed under another topology): the ranks moved
  // in lockstep, so the first rank's position is the run's; each new rank continues after the
  // windows the saved run had used.
  uint64_t skipped = 0;
  for (data::DataLoader& l : loaders) skipped = l.continue_after(first);
  std::cerr << "tandem: the checkpoint's data position was saved at world_size " << json::to_string(*world)
            << " x micro_batch " << json::to_string(*micro) << "; this run continues at world_size "
            << loaders.front().config().world_size << " x micro_batch " << loaders.front().config().micro_batch
            << " from the first window the saved run had not used"
            << (skipped > 0 ? " (" + std::to_string(skipped) + " windows passed over to start on a whole step)" : "")
            << "\n";
}

}  // namespace tandem
