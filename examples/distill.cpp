// Knowledge distillation with tandem, written the way Accelerate's "multiple models with DeepSpeed"
// guide writes it in Python: a ZeRO-2 student (AdamW offloaded to the host, WarmupLR) learns from a
// ZeRO-3 teacher that only runs forward. The teacher's weights come from a `tandem train` checkpoint
// (tools/main-job.sh makes one from configs/examples/distill_teacher.json).
//
//   tandem-example-distill [--teacher-checkpoint runs/distill/teacher] [--steps 200] ...
//
// Each step of the loop is the guide's loop:  teacher forward under no_grad -> student forward ->
// combined loss -> accelerator.backward(loss) -> optimizer.step(), scheduler.step(), zero_grad().
// Here it is DeepSpeed's engine loop: backward(loss), then step(), which clips, steps the optimizer
// and the schedule and zeroes the gradients on the accumulation boundary (Accelerate's
// accelerator.backward() calls engine.backward() and engine.step() the same way).
#include <fstream>
#include <iostream>

#include "example_support.hpp"
#include "tandem/accelerator.hpp"
#include "tandem/distill.hpp"

int main(int argc, char** argv) {
  const example::Args args(argc, argv,
                           {{"student-config", TANDEM_SOURCE_DIR "/configs/zero2_config.json"},
                            {"teacher-config", TANDEM_SOURCE_DIR "/configs/zero3_config.json"},
                            {"teacher-checkpoint", TANDEM_SOURCE_DIR "/runs/distill/teacher"},
                            {"data", "kjv"},
                            {"data-cache", TANDEM_SOURCE_DIR "/runs/data"},
                            {"steps", "200"},
                            {"micro-batch", "8"},
                            {"alpha", "2"},
                            {"temperature", "1"}});
  try {
    // deepspeed_plugins = {"student": zero2_plugin, "teacher": zero3_plugin}
    // accelerator = Accelerator(deepspeed_plugins=deepspeed_plugins)
    tandem::PluginSet deepspeed_plugins{
        {"student", tandem::DeepSpeedPlugin::from(args.text("student-config"))},
        {"teacher", tandem::DeepSpeedPlugin::from(args.text("teacher-config"))}};
    tandem::Accelerator accelerator(std::move(deepspeed_plugins), {.world_size = 2});

    // The first plugin is the active one: get_active_deepspeed_plugin(state) is "student".
    if (accelerator.active_name() != "student") throw std::logic_error("the first plugin should be active");

    // student_model, optimizer, scheduler, train_dataloader = accelerator.prepare(...): the config's
    // "auto"s come from what prepare is given, as Accelerate takes them from the objects.
    const int64_t steps = args.integer("steps"), micro_batch = args.integer("micro-batch");
    tandem::Prepared student = accelerator.prepare({.micro_batch = micro_batch,
                                                    .lr = 3e-3,
                                                    .weight_decay = 0.0,
                                                    .warmup_steps = steps / 10,
                                                    .total_steps = steps,
                                                    .model = example::gpt(2, 64, 128, 42)});

    // accelerator.state.select_deepspeed_plugin("teacher"); teacher_model = accelerator.prepare(teacher_model)
    accelerator.select("teacher");
    tandem::Prepared teacher =
        accelerator.prepare({.micro_batch = micro_batch, .model = example::gpt(4, 128, 128, 1234)});
    // AutoModel.from_pretrained(...): the weights of a `tandem train` checkpoint, without its optimizer.
    std::filesystem::path checkpoint = args.text("teacher-checkpoint");
    if (!std::filesystem::exists(checkpoint / "engine.json")) {
      std::ifstream latest(checkpoint / "latest");
      std::string name;
      if (!std::getline(latest, name))
        throw std::runtime_error(checkpoint.string() + " holds no checkpoint: train the teacher first with "
                                 "`tandem train configs/examples/distill_teacher.json`");
      checkpoint /= name;
    }
    teacher.engine()->load(checkpoint, /*with_optimizer=*/false);

    // teacher_model.eval(); student_model.train(): the teacher has no optimizer and runs forward
    // with train = false (no activations kept, nothing changed); the student trains.
    tandem::Engine& student_model = *student.engine();
    tandem::Engine& teacher_model = *teacher.engine();
    auto train_dataloader = example::loaders(args.text("data"), args.text("data-cache"), 2, 128, micro_batch, 42);
    const auto eval_batches = example::validation(train_dataloader, 16);
    const double alpha = args.number("alpha"), temperature = args.number("temperature");

    for (int64_t step = 0; step < steps; ++step) {
      std::vector<tandem::TokenBatch> batch;
      std::vector<int64_t> rank_steps;
      for (auto& rank : train_dataloader) {
        rank_steps.push_back(static_cast<int64_t>(rank.position().step + rank.position().epoch * rank.steps_per_epoch()));
        batch.push_back(example::to_batch(rank.next()));
      }
      // Every rank feeds the same step to the teacher's collective forward.
      tandem::check_lockstep(rank_steps, student_model.micro_steps(), 2, "teacher forward");
      // with torch.no_grad(): output_teacher = teacher_model(**batch)
      const tandem::Logits output_teacher = teacher_model.forward(batch, /*train=*/false);
      // output_student = student_model(**batch)
      student_model.forward(batch, /*train=*/true);
      // loss = CE + alpha * T^2 * KL(teacher_T || student_T); accelerator.backward(loss);
      student_model.backward({&batch, &output_teacher, alpha, temperature});
      // optimizer.step(); scheduler.step(); optimizer.zero_grad()
      const tandem::StepReport r = student_model.step();
      if ((step + 1) % 20 == 0 || step + 1 == steps)
        std::cout << "step " << r.global_steps << ": loss " << r.loss << " (CE " << r.ce_loss << ", KD " << r.kd_loss
                  << "), lr " << r.lr << "\n";
    }
    std::cout << "student val loss " << student_model.evaluate(eval_batches) << ", teacher val loss "
              << teacher_model.evaluate(eval_batches) << "\n";
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
