// Two disjoint models trained at once with tandem, written the way Accelerate's "multiple models
// with DeepSpeed" guide writes it in Python: two plugins, and a second Accelerator made without
// arguments that shares them (each Accelerator drives its own engine). Both models see the same
// batches; each has its own gradients, optimizer, scheduler and checkpoint.
//
//   tandem-example-two-models [--steps 100] [--first-config ...] [--second-config ...] ...
#include <iostream>

#include "example_support.hpp"
#include "tandem/accelerator.hpp"

int main(int argc, char** argv) {
  const example::Args args(argc, argv,
                           {{"first-config", TANDEM_SOURCE_DIR "/configs/zero2_config.json"},
                            {"second-config", TANDEM_SOURCE_DIR "/configs/examples/two_models_second.json"},
                            {"data", "kjv"},
                            {"data-cache", TANDEM_SOURCE_DIR "/runs/data"},
                            {"steps", "100"},
                            {"micro-batch", "8"},
                            {"checkpoint-dir", ""}});
  try {
    // first_accelerator = Accelerator(deepspeed_plugins=deepspeed_plugins); second_accelerator = Accelerator()
    tandem::Accelerator first_accelerator(
        {{"first_model", tandem::DeepSpeedPlugin::from(args.text("first-config"))},
         {"second_model", tandem::DeepSpeedPlugin::from(args.text("second-config"))}},
        {.world_size = 2});
    tandem::Accelerator second_accelerator;

    const int64_t steps = args.integer("steps"), micro_batch = args.integer("micro-batch");
    // first_accelerator.state.select_deepspeed_plugin("first_model"); first_model = ...;
    // first_model, first_optimizer, first_scheduler, train_dl, eval_dl = accelerator.prepare(...)
    first_accelerator.select("first_model");
    tandem::Prepared first = first_accelerator.prepare({.micro_batch = micro_batch,
                                                        .lr = 3e-3,
                                                        .weight_decay = 0.0,
                                                        .warmup_steps = steps / 10,
                                                        .total_steps = steps,
                                                        .model = example::gpt(2, 64, 128, 1)});
    // second_accelerator.state.select_deepspeed_plugin("second_model"); second_model = ...
    second_accelerator.select("second_model");
    tandem::Prepared second = second_accelerator.prepare({.micro_batch = micro_batch,
                                                          .lr = 2e-3,
                                                          .weight_decay = 0.1,
                                                          .warmup_steps = steps / 10,
                                                          .total_steps = steps,
                                                          .model = example::gpt(2, 96, 128, 2)});
    tandem::Engine& first_model = *first.engine();
    tandem::Engine& second_model = *second.engine();

    auto dl = example::loaders(args.text("data"), args.text("data-cache"), 2, 128, micro_batch, 7);
    const auto eval_dl = example::validation(dl, 16);
    for (int64_t step = 0; step < steps; ++step) {
      std::vector<tandem::TokenBatch> batch;
      for (auto& rank : dl) batch.push_back(example::to_batch(rank.next()));
      // outputs1 = first_model(**batch); first_accelerator.backward(outputs1.loss);
      first_model.forward(batch, true);
      first_model.backward({&batch});
      // first_optimizer.step(); first_scheduler.step(); first_optimizer.zero_grad()
      const tandem::StepReport r1 = first_model.step();
      // outputs2 = second_model(**batch); second_accelerator.backward(outputs2.loss); ...
      second_model.forward(batch, true);
      second_model.backward({&batch});
      const tandem::StepReport r2 = second_model.step();
      if ((step + 1) % 20 == 0 || step + 1 == steps)
        std::cout << "step " << step + 1 << ": first loss " << r1.loss << " (lr " << r1.lr << "), second loss "
                  << r2.loss << " (lr " << r2.lr << ")\n";
    }
    std::cout << "val loss: first " << first_model.evaluate(eval_dl) << " (" << first.engine()->config().source
              << ", ZeRO-" << first.engine()->config().zero.stage << "), second " << second_model.evaluate(eval_dl)
              << " (" << second.engine()->config().source << ", ZeRO-" << second.engine()->config().zero.stage
              << ")\n";
    // Each engine checkpoints on its own.
    if (!args.text("checkpoint-dir").empty()) {
      const std::filesystem::path dir = args.text("checkpoint-dir");
      for (auto [name, engine] : {std::pair{"first_model", &first_model}, std::pair{"second_model", &second_model}}) {
        std::filesystem::remove_all(dir / name);
        std::filesystem::create_directories(dir / name);
        engine->save(dir / name);
      }
      std::cout << "checkpoints in " << dir.string() << "/{first_model,second_model}\n";
    }
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
