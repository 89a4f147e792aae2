// `tandem train`: one model's engine and data from a run file, then the shared training loop
// (training_loop.hpp: resume, steps, evaluation, metrics, progress, atomic checkpoints).
#include "tandem/train.hpp"

#include <iostream>

#include "tandem/accelerator.hpp"
#include "estimate/run_memory.hpp"
#include "tandem/data.hpp"
#include "train/run_outputs.hpp"
#include "train/run_start.hpp"
#include "train/training_loop.hpp"
#include "train/train_support.hpp"

namespace tandem {

TrainSummary train(const RunFile& run, const TrainOptions& options) {
  // A missing data file is reported before the model is built (which can take a while).
  (void)run_data_files(run);

  // The engine, prepared as Accelerate would: one plugin, the data's batch size, the run's facts.
  refuse_cpu_run_of_several_processes(run.device, run.ranks, run.source);
  // The config first, then whether the model and its batch can fit, before either is built.
  DeepSpeedConfig config = load_deepspeed(run.deepspeed, run.deepspeed_source);
  if (!options.skip_memory_check && run.device == RunDevice::cpu)
    check_run_memory({{"model", &run.model, &config, true, run.ranks, run.micro_batch, run.seq_len}}, run.source);
  State::reset();
  PluginSet plugins;
  plugins.add("train", DeepSpeedPlugin(std::move(config)));
  AcceleratorOptions accel;
  accel.world_size = run.ranks;
  accel.device = run.device;
  accel.module_path = options.module_path;
  Accelerator accelerator(std::move(plugins), accel);
  PrepareInputs inputs = prepare_inputs(run);
  Prepared prepared = accelerator.prepare(inputs);
  print_config_warnings(prepared);
  Engine& engine = *prepared.engine();
  if (!engine.trains())
    throw std::invalid_argument(run.deepspeed_source + ": the config has no \"optimizer\"; `tandem train` needs one");
  const BatchTriple& batch = engine.config().batch;

  // The data: each rank its shard of the same token stream.
  auto tokens = load_run_tokens(run, static_cast<uint32_t>(engine.vocab_size()));
  const int64_t seq = run.seq_len.value_or(engine.max_sequence());
  if (seq > engine.max_sequence())
    throw std::invalid_argument(run.source + ": seq_len " + std::to_string(seq) + " exceeds the model's block_size " +
                                std::to_string(engine.max_sequence()));
  std::vector<data::DataLoader> loaders = make_loaders(run, engine, tokens, seq, batch.micro_batch_per_gpu);
  const double unigram = unigram_entropy(tokens->ids, loaders.front().train_tokens());

  if (!run.init_from.empty()) engine.load_weights(run.init_from);

  LoopOutputs outputs{run.checkpoint_dir, run.metrics};
  outputs.before_first_step = [&](const monitor::Monitors& monitors) {
    if (options.progress && engine.first_rank() == 0)
      print_run_start(std::cerr, "train", run.source, run.steps, run_device_name(run.device),
                      {{"model", &engine, seq, run.checkpoint_dir, false, 0, &monitors}}, run.metrics);
  };
  const LoopResult result = run_training_loop(
      engine, run, loaders, options, outputs,
      [&](const std::vector<TokenBatch>& batches, const std::vector<int64_t>&) {
        engine.forward(batches, true);
        engine.backward(LossSpec{&batches});
        return engine.step();
      });
  TrainSummary summary = result.summary;
  summary.unigram_baseline = unigram;
  return summary;
}

}  // namespace tandem
