// The training loop of `tandem train`: data per rank, engine steps, evaluation, metrics, progress,
// and checkpoints that are either whole or absent (written under a temporary name, then renamed).
#include "tandem/train.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tandem/accelerator.hpp"
#include "tandem/data.hpp"
#include "train/checkpoint_dir.hpp"
#include "train/progress.hpp"

namespace tandem {

namespace {

using Clock = std::chrono::steady_clock;

data::TokenFormat token_format(const std::string& name) {
  if (name == "text") return data::TokenFormat::Text;
  if (name == "llmc") return data::TokenFormat::LlmC;
  if (name == "raw") return data::TokenFormat::Raw;
  return data::TokenFormat::Auto;
}

// Entropy (nats) of the training tokens' unigram distribution: the loss of a model that ignores
// context, which a trained model must beat.
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

DeepSpeedConfig load_deepspeed(const RunFile& run) {
  if (run.deepspeed.is_object()) return DeepSpeedConfig(json::Document{run.deepspeed_source, run.deepspeed});
  return load_config_file(run.deepspeed_source);
}

// One batch per rank, from each rank's loader.
std::vector<TokenBatch> next_batches(std::vector<data::DataLoader>& loaders) {
  std::vector<TokenBatch> out(loaders.size());
  for (size_t r = 0; r < loaders.size(); ++r) {
    data::Batch b = loaders[r].next();
    out[r] = TokenBatch{std::move(b.inputs), std::move(b.targets), b.batch, b.block};
  }
  return out;
}

std::vector<std::vector<TokenBatch>> validation_batches(const std::vector<data::DataLoader>& loaders, int64_t count) {
  std::vector<std::vector<TokenBatch>> out;
  const uint64_t available = loaders.front().val_batches();
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

std::string metrics_line(int64_t step, const StepReport& r, double tokens_per_s, std::optional<double> val) {
  json::Value line = json::Value::object();
  line.set("step", json::Value::integer(step));
  line.set("loss", json::Value::number(r.loss));
  line.set("lr", json::Value::number(r.lr));
  line.set("grad_norm", json::Value::number(r.grad_norm));
  line.set("tokens_per_s", json::Value::number(tokens_per_s));
  line.set("skipped", json::Value::boolean(!r.stepped));
  json::Value time = json::Value::object();
  time.set("forward", json::Value::number(r.time.forward));
  time.set("backward", json::Value::number(r.time.backward));
  time.set("communication", json::Value::number(r.time.communication));
  time.set("optimizer", json::Value::number(r.time.optimizer));
  line.set("time_s", std::move(time));
  if (val) line.set("val_loss", json::Value::number(*val));
  return json::to_string(line);
}

}  // namespace

TrainSummary train(const RunFile& run, const TrainOptions& options) {
  // A missing data file is reported before the model is built (which can take a while).
  if (run.data != "kjv" && !std::filesystem::exists(run.data))
    throw data::DataError(run.data.string(), "no such file (the run file's data.path)");

  // The engine, prepared as Accelerate would: one plugin, the data's batch size, the run's facts.
  State::reset();
  PluginSet plugins;
  plugins.add("train", DeepSpeedPlugin(load_deepspeed(run)));
  AcceleratorOptions accel;
  accel.world_size = run.ranks;
  Accelerator accelerator(std::move(plugins), accel);
  PrepareInputs inputs;
  inputs.model = run.model;
  inputs.micro_batch = run.micro_batch;
  inputs.lr = run.lr;
  inputs.weight_decay = run.weight_decay;
  inputs.warmup_steps = run.warmup_steps;
  inputs.total_steps = run.steps;
  Prepared prepared = accelerator.prepare(inputs);
  Engine& engine = *prepared.engine();
  if (!engine.trains())
    throw std::invalid_argument(run.deepspeed_source + ": the config has no \"optimizer\"; `tandem train` needs one");
  const BatchTriple& batch = engine.config().batch;

  // The data: each rank its shard of the same token stream.
  const std::filesystem::path data_file = run.data == "kjv" ? data::kjv_text(run.cache_dir) : run.data;
  auto tokens = std::make_shared<const data::Tokens>(
      data::load_tokens(data_file, static_cast<uint32_t>(engine.vocab_size()), token_format(run.data_format)));
  const int64_t seq = run.seq_len.value_or(engine.max_sequence());
  if (seq > engine.max_sequence())
    throw std::invalid_argument(run.source + ": seq_len " + std::to_string(seq) + " exceeds the model's block_size " +
                                std::to_string(engine.max_sequence()));
  std::vector<data::DataLoader> loaders;
  for (int64_t r = 0; r < run.ranks; ++r)
    loaders.emplace_back(tokens, data::LoaderConfig{seq, batch.micro_batch_per_gpu, static_cast<int>(r),
                                                    static_cast<int>(run.ranks), run.seed, run.val_fraction});
  TrainSummary summary;
  summary.unigram_baseline = unigram_entropy(tokens->ids, loaders.front().train_tokens());

  // Resume from the newest whole checkpoint.
  CheckpointDir checkpoints(run.checkpoint_dir);
  if (options.resume) {
    if (run.checkpoint_dir.empty()) throw std::invalid_argument(run.source + ": --resume needs a checkpoint_dir");
    if (const std::optional<std::filesystem::path> latest = checkpoints.latest()) {
      engine.load(*latest);
      const json::Document trainer = json::parse_file(*latest / "trainer.json");
      const json::Value* states = trainer.root.find("loaders");
      if (states == nullptr || !states->is_array() || states->items().size() != loaders.size())
        throw std::runtime_error((*latest / "trainer.json").string() + ": no loader state per rank");
      for (size_t r = 0; r < loaders.size(); ++r) loaders[r].restore(states->items()[r]);
      if (options.progress) std::cerr << "resumed from " << latest->string() << " at step " << engine.global_steps() << "\n";
    }
  }

  // Metrics: one JSON line per optimizer step; a resumed run drops the lines after its checkpoint.
  std::ofstream metrics;
  if (!run.metrics.empty()) {
    std::filesystem::create_directories(run.metrics.parent_path().empty() ? "." : run.metrics.parent_path());
    truncate_metrics_after(run.metrics, engine.global_steps());
    metrics.open(run.metrics, std::ios::app);
    if (!metrics) throw std::runtime_error("cannot write metrics to " + run.metrics.string());
  }

  const std::vector<std::vector<TokenBatch>> val = validation_batches(loaders, run.eval_batches);
  const int64_t tokens_per_step = run.ranks * batch.micro_batch_per_gpu * seq * batch.gradient_accumulation_steps;
  Progress progress(options.progress, run.steps);
  const auto run_start = Clock::now();
  int64_t run_tokens = 0;
  auto save = [&](int64_t step) {
    summary.last_checkpoint = checkpoints.write(step, [&](const std::filesystem::path& dir) {
      engine.save(dir);
      json::Value trainer = json::Value::object();
      trainer.set("step", json::Value::integer(step));
      json::Value states = json::Value::array();
      for (const data::DataLoader& l : loaders) states.push_back(l.state());
      trainer.set("loaders", std::move(states));
      trainer.set("run_file", json::Value::string(run.source));
      std::ofstream out(dir / "trainer.json");
      out << json::to_string(trainer, true) << "\n";
      if (!out) throw std::runtime_error("cannot write " + (dir / "trainer.json").string());
    });
  };

  while (engine.global_steps() < run.steps) {
    const auto t0 = Clock::now();
    StepReport report;
    do {
      const std::vector<TokenBatch> batches = next_batches(loaders);
      engine.forward(batches, true);
      report = engine.backward(LossSpec{&batches});
    } while (!report.boundary);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double tokens_per_s = static_cast<double>(tokens_per_step) / seconds;
    run_tokens += tokens_per_step;
    const int64_t step = engine.global_steps();
    const bool last = step == run.steps || (options.stop_after && step >= *options.stop_after);
    std::optional<double> val_loss;
    if ((run.eval_interval > 0 && step % run.eval_interval == 0) || last) val_loss = engine.evaluate(val);
    if (metrics.is_open()) metrics << metrics_line(step, report, tokens_per_s, val_loss) << "\n" << std::flush;
    progress.update(step, report.loss, report.lr, tokens_per_s, val_loss);
    summary.final_loss = report.loss;
    if (val_loss) summary.val_loss = *val_loss;
    if (!run.checkpoint_dir.empty() && ((run.checkpoint_interval > 0 && step % run.checkpoint_interval == 0) || last))
      save(step);
    if (last) break;
  }
  progress.finish();
  summary.steps = engine.global_steps();
  const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
  summary.tokens_per_second = elapsed > 0 ? static_cast<double>(run_tokens) / elapsed : 0;
  return summary;
}

}  // namespace tandem
