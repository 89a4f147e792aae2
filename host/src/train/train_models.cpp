// Disjoint models trained side by side (train_models.hpp): the run file, and the loop in which each
// model has its own Accelerator, plugin and engine and all of them see the same batches.
#include "tandem/train_models.hpp"

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>

#include "estimate/run_memory.hpp"
#include "tandem/accelerator.hpp"
#include "io/regular_file.hpp"
#include "train/checkpoint_dir.hpp"
#include "train/progress.hpp"
#include "train/run_file_reader.hpp"
#include "train/run_outputs.hpp"
#include "train/run_start.hpp"
#include "train/train_support.hpp"

namespace tandem {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

bool is_multi_model_run_file(const std::filesystem::path& path) {
  try {
    const json::Document doc = json::parse_file(path);
    return doc.root.is_object() && doc.root.find("models") != nullptr;
  } catch (const json::ParseError&) {
    return false;  // load_run_file reports it
  }
}

MultiModelRunFile load_multi_model_run_file(const std::filesystem::path& path) {
  const json::Document doc = json::parse_file(path);
  RunFileReader in(doc, path);
  MultiModelRunFile out;
  out.source = path.string();
  RunFile shared;
  shared.source = out.source;
  const json::Value& models = in.required("models");
  read_training_keys(in, shared);
  in.refuse_unknown_keys(std::string("models, ") + kTrainingKeys);
  if (!models.is_object() || models.members().empty())
    in.fail(models, "expected an object of one entry per model: {\"<name>\": {\"model\": ..., \"deepspeed\": ...}}");
  for (const auto& [name, entry] : models.members()) {
    if (!entry.is_object()) in.fail(entry, "expected {\"model\": {...}, \"deepspeed\": ...}");
    in.refuse_unknown_members(entry, "model deepspeed lr weight_decay warmup_steps seed", "model \"" + name + "\"");
    ModelRun m{name, shared};
    const json::Value* model = entry.find("model");
    if (model == nullptr) in.fail(entry, "needs \"model\" ({\"type\": ..., \"params\": {...}})");
    m.run.model = read_model(in, *model, out.source);
    const json::Value* ds = entry.find("deepspeed");
    if (ds == nullptr) in.fail(entry, "needs \"deepspeed\" (a config file or an inline config)");
    read_deepspeed(in, *ds, out.source, m.run.deepspeed, m.run.deepspeed_source);
    if (const json::Value* v = entry.find("lr")) m.run.lr = in.number(*v, 0.0, 10.0);
    if (const json::Value* v = entry.find("weight_decay")) m.run.weight_decay = in.number(*v, 0.0, 10.0);
    if (const json::Value* v = entry.find("warmup_steps")) m.run.warmup_steps = in.integer(*v, 0);
    // A model's own seed sets its initial weights; the data order is the run's (one stream for all).
    m.run.model.seed = shared.seed;
    if (const json::Value* v = entry.find("seed")) m.run.model.seed = static_cast<uint64_t>(in.integer(*v, 0));
    if (!shared.checkpoint_dir.empty()) m.run.checkpoint_dir = shared.checkpoint_dir / name;
    out.models.push_back(std::move(m));
  }
  return out;
}

std::vector<ModelSummary> train_models(const MultiModelRunFile& run, const TrainOptions& options) {
  const RunFile& shared = run.models.front().run;
  (void)run_data_files(shared);

  // The seed's second scenario: the first Accelerator holds every plugin, each other one is made
  // with no arguments and shares them; each selects its model's plugin and prepares it.
  refuse_cpu_run_of_several_processes(shared.device, shared.ranks, run.source);
  std::vector<DeepSpeedConfig> configs;
  for (const ModelRun& m : run.models) configs.push_back(load_deepspeed(m.run.deepspeed, m.run.deepspeed_source));
  // Every model lives in this process: together they must fit, checked before any is built.
  if (!options.skip_memory_check && shared.device == RunDevice::cpu) {
    std::vector<ModelMemoryInputs> needs;
    for (size_t i = 0; i < run.models.size(); ++i)
      needs.push_back({"model \"" + run.models[i].name + "\"", &run.models[i].run.model, &configs[i], true,
                       shared.ranks, shared.micro_batch, shared.seq_len});
    check_run_memory(needs, run.source);
  }
  State::reset();
  PluginSet plugins;
  for (size_t i = 0; i < run.models.size(); ++i) plugins.add(run.models[i].name, DeepSpeedPlugin(std::move(configs[i])));
  AcceleratorOptions accel;
  accel.world_size = shared.ranks;
  accel.device = shared.device;
  accel.module_path = options.module_path;
  std::vector<Accelerator> accelerators;
  accelerators.emplace_back(std::move(plugins), accel);
  for (size_t i = 1; i < run.models.size(); ++i) accelerators.emplace_back();
  std::vector<Prepared> prepared;
  for (size_t i = 0; i < run.models.size(); ++i) {
    const RunFile& m = run.models[i].run;
    accelerators[i].select(run.models[i].name);
    prepared.push_back(accelerators[i].prepare(prepare_inputs(m)));
    print_config_warnings(prepared.back());
    Engine& e = *prepared.back().engine();
    if (!e.trains())
      throw std::invalid_argument(m.deepspeed_source + ": the config of model \"" + run.models[i].name +
                                  "\" has no \"optimizer\"; every model of a multi-model run trains");
    const BatchTriple& first = prepared.front().engine()->config().batch;
    const BatchTriple& b = e.config().batch;
    if (b.micro_batch_per_gpu != first.micro_batch_per_gpu ||
        b.gradient_accumulation_steps != first.gradient_accumulation_steps)
      throw std::invalid_argument(run.source + ": model \"" + run.models[i].name + "\" resolves to micro-batch " +
                                  std::to_string(b.micro_batch_per_gpu) + " x " +
                                  std::to_string(b.gradient_accumulation_steps) + " accumulation steps and \"" +
                                  run.models.front().name + "\" to " + std::to_string(first.micro_batch_per_gpu) +
                                  " x " + std::to_string(first.gradient_accumulation_steps) +
                                  "; models trained side by side share their batches and step together");
    if (!m.init_from.empty()) e.load_weights(m.init_from);
  }
  const BatchTriple& batch = prepared.front().engine()->config().batch;

  // One stream of batches for all models: as long as every model can take it.
  int64_t seq = shared.seq_len.value_or(INT64_MAX);
  for (const Prepared& p : prepared) {
    if (shared.seq_len && *shared.seq_len > p.engine()->max_sequence())
      throw std::invalid_argument(run.source + ": seq_len " + std::to_string(*shared.seq_len) +
                                  " exceeds the block_size of model \"" + p.plugin_name() + "\" (" +
                                  std::to_string(p.engine()->max_sequence()) + ")");
    if (p.engine()->vocab_size() != prepared.front().engine()->vocab_size())
      throw std::invalid_argument(run.source + ": models \"" + p.plugin_name() + "\" and \"" +
                                  prepared.front().plugin_name() + "\" have different vocabularies; they read the "
                                  "same tokens");
    if (!shared.seq_len) seq = std::min(seq, p.engine()->max_sequence());
  }
  auto tokens = load_run_tokens(shared, static_cast<uint32_t>(prepared.front().engine()->vocab_size()));
  std::vector<data::DataLoader> loaders = make_loaders(shared, *prepared.front().engine(), tokens, seq, batch.micro_batch_per_gpu);
  const double unigram = unigram_entropy(tokens->ids, loaders.front().train_tokens());

  // Resume: every model from its newest whole checkpoint of one step. They are written at the same
  // steps; if the newest of one is damaged (or missing), all go back to the newest step whole for all.
  if (options.stop_after && *options.stop_after < 1)
    throw std::invalid_argument(run.source + ": stop_after must be an optimizer step, at least 1");
  RunOutputPaths paths{shared.checkpoint_dir, {}, shared.metrics};
  for (const ModelRun& m : run.models) paths.checkpoint_dirs.push_back(m.run.checkpoint_dir);
  const RunOutputs claimed(paths, options.resume, options.overwrite, run.source);
  std::vector<monitor::Monitors> monitors;  // each model's config's csv_monitor and tensorboard
  std::vector<std::pair<std::string, const monitor::Monitors*>> monitored;
  for (size_t i = 0; i < prepared.size(); ++i) monitors.push_back(make_monitors(*prepared[i].engine(), run.source, options));
  for (size_t i = 0; i < prepared.size(); ++i) monitored.emplace_back(run.models[i].name, &monitors[i]);
  monitor::refuse_shared_log_dirs(monitored, run.source);
  std::vector<CheckpointDir> checkpoints;
  for (const ModelRun& m : run.models) checkpoints.emplace_back(m.run.checkpoint_dir, shared.keep_checkpoints);
  std::vector<std::filesystem::path> resumed_from(checkpoints.size());  // each model's, when resumed
  if (options.resume) {
    if (shared.checkpoint_dir.empty()) throw std::invalid_argument(run.source + ": --resume needs a checkpoint_dir");
    if (!options.resume_from.empty())
      throw std::invalid_argument(run.source + ": --resume " + options.resume_from.string() +
                                  ": a run of several models resumes from its own checkpoint_dir (--resume without "
                                  "PATH); a named checkpoint is one model's (train or distill)");
    std::optional<int64_t> at_most;
    std::vector<std::optional<std::filesystem::path>> latest(checkpoints.size());
    for (;;) {
      std::optional<int64_t> oldest, newest;
      for (size_t i = 0; i < checkpoints.size(); ++i) {
        latest[i] = checkpoints[i].latest(std::cerr, at_most);
        const int64_t step = latest[i] ? *checkpoint_step(*latest[i]) : -1;
        oldest = oldest ? std::min(*oldest, step) : step;
        newest = newest ? std::max(*newest, step) : step;
      }
      if (*oldest == *newest) break;  // all of one step, or none at all
      if (*oldest < 0)
        throw std::runtime_error(run.source + ": some models have checkpoints in " + shared.checkpoint_dir.string() +
                                 " and others none of the same step; cannot resume them together");
      at_most = *oldest;  // strictly lower than before: the loop ends
    }
    for (size_t i = 0; i < latest.size(); ++i)
      if (latest[i]) {
        prepared[i].engine()->load(*latest[i]);
        resumed_from[i] = *latest[i];
      }
    if (latest[0]) {
      restore_loaders(*latest[0], loaders);
      if (options.progress)
        std::cerr << "resumed from " << latest[0]->filename().string() << " at step "
                  << prepared.front().engine()->global_steps() << "\n";
    }
  }

  for (monitor::Monitors& m : monitors) m.start(prepared.front().engine()->global_steps());
  std::optional<io::RegularFile> metrics;
  if (!shared.metrics.empty()) {
    std::filesystem::create_directories(shared.metrics.parent_path().empty() ? "." : shared.metrics.parent_path());
    truncate_metrics_after(shared.metrics, prepared.front().engine()->global_steps());
    metrics = open_metrics(shared.metrics, run.source);
  }

  if (options.progress && prepared.front().engine()->first_rank() == 0) {
    std::vector<RunStartModel> shown;
    for (size_t i = 0; i < prepared.size(); ++i)
      shown.push_back({run.models[i].name, prepared[i].engine(), seq, run.models[i].run.checkpoint_dir, false, 0,
                       &monitors[i]});
    print_run_start(std::cerr, "train", run.source, shared.steps, run_device_name(shared.device), shown,
                    shared.metrics);
  }

  std::vector<ModelSummary> summaries;
  for (const ModelRun& m : run.models) summaries.push_back(ModelSummary{m.name, TrainSummary{}});
  for (ModelSummary& s : summaries) s.summary.unigram_baseline = unigram;
  const std::vector<std::vector<TokenBatch>> val = validation_batches(loaders, shared.eval_batches, run.source);
  const int64_t tokens_per_step =
      prepared.front().engine()->world_size() * batch.micro_batch_per_gpu * seq * batch.gradient_accumulation_steps;
  Progress progress(options.progress, shared.steps);
  std::vector<double> seconds(prepared.size(), 0.0), step_seconds(prepared.size(), 0.0);
  std::vector<StepReport> reports(prepared.size());
  int64_t steps_run = 0;
  std::vector<NonFiniteStreak> nonfinite(prepared.size(), NonFiniteStreak(run.source, shared.max_nonfinite_steps));
  for (size_t i = 0; i < summaries.size(); ++i) summaries[i].summary.last_checkpoint = resumed_from[i];

  Engine& lead = *prepared.front().engine();
  if (lead.global_steps() >= shared.steps)  // resumed after its last step: say so, train nothing
    for (size_t i = 0; i < summaries.size(); ++i) {
      summaries[i].summary.already_finished = true;
      if (!val.empty()) summaries[i].summary.val_loss = prepared[i].engine()->evaluate(val);
    }
  while (lead.global_steps() < shared.steps) {
    bool boundary = false;
    std::fill(step_seconds.begin(), step_seconds.end(), 0.0);
    while (!boundary) {
      const std::vector<TokenBatch> batches = next_batches(loaders);
      for (size_t i = 0; i < prepared.size(); ++i) {
        const auto t0 = Clock::now();
        Engine& e = *prepared[i].engine();
        e.forward(batches, true);
        e.backward(LossSpec{&batches});
        reports[i] = e.step();
        step_seconds[i] += std::chrono::duration<double>(Clock::now() - t0).count();
      }
      boundary = reports.front().boundary;  // the same accumulation for all: they agree
    }
    ++steps_run;
    for (size_t i = 0; i < prepared.size(); ++i) seconds[i] += step_seconds[i];
    const int64_t step = lead.global_steps();
    const bool last = step == shared.steps || (options.stop_after && step >= *options.stop_after);
    const bool eval = ((shared.eval_interval > 0 && step % shared.eval_interval == 0) || last) && !val.empty();
    const bool interrupted = options.stop != nullptr && options.stop->requested();
    for (size_t i = 0; i < prepared.size(); ++i) {
      Engine& e = *prepared[i].engine();
      TrainSummary& s = summaries[i].summary;
      std::optional<double> val_loss;
      if (eval) val_loss = e.evaluate(val);
      if (metrics) {
        json::Value record =
            metrics_record(step, reports[i], static_cast<double>(tokens_per_step) / step_seconds[i], val_loss);
        record.set("model", json::Value::string(summaries[i].name));
        if (!metrics->write_all(json::to_string(record) + "\n")) throw_metrics_write_error(shared.metrics);
      }
      monitors[i].write_step(step, reports[i].loss, reports[i].lr, reports[i].loss_scale, val_loss);
      s.final_loss = reports[i].loss;
      if (val_loss) s.val_loss = val_loss;
      nonfinite[i].observe(step, reports[i], s.last_checkpoint, summaries[i].name);
    }
    // As in training_loop.cpp: due at the interval, the end or an interrupt, and only after a step
    // that no model skipped for non-finite gradients (so that all models' checkpoints stay of one step).
    bool streak = false;
    for (const NonFiniteStreak& n : nonfinite) streak = streak || n.count() > 0;
    const bool due = !shared.checkpoint_dir.empty() &&
                     ((shared.checkpoint_interval > 0 && step % shared.checkpoint_interval == 0) || last || interrupted);
    if (due && streak)
      std::cerr << "tandem: warning: step " << step
                << ": no checkpoint after a step skipped for non-finite gradients; the newest stays as it was\n";
    const bool save = due && !streak;
    for (size_t i = 0; i < prepared.size() && save; ++i) {
      Engine& e = *prepared[i].engine();
      summaries[i].summary.last_checkpoint = checkpoints[i].write(step, [&](const std::filesystem::path& dir) {
        e.save(dir);
        write_trainer_state(dir, step, loaders, run.source);
      });
    }
    if (interrupted) {
      for (ModelSummary& s : summaries) s.summary.interrupted_by = options.stop->signal();
      break;
    }
    double all_seconds = 0;
    for (double t : step_seconds) all_seconds += t;
    std::vector<ModelProgress> shown;  // every model, named
    for (size_t i = 0; i < prepared.size(); ++i)
      shown.push_back({summaries[i].name, reports[i].loss, reports[i].lr,
                       eval ? summaries[i].summary.val_loss : std::nullopt});
    progress.update(step, shown,
                    static_cast<double>(tokens_per_step * static_cast<int64_t>(prepared.size())) / all_seconds);
    if (last) break;
  }
  progress.finish();
  for (size_t i = 0; i < prepared.size(); ++i) {
    TrainSummary& s = summaries[i].summary;
    s.steps = prepared[i].engine()->global_steps();
    s.tokens_per_second = seconds[i] > 0 ? static_cast<double>(tokens_per_step * steps_run) / seconds[i] : 0;
  }
  return summaries;
}

}  // namespace tandem
