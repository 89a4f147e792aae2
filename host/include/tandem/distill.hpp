// Knowledge distillation, the seed's first scenario: a student trained on cross-entropy plus
// alpha * T^2 * KL(teacher_T || student_T) beside a frozen teacher, each model under its own named
// DeepSpeed plugin ({"student": ZeRO-2 config, "teacher": ZeRO-3 config}).
//
// In C++, as the seed writes it in Python (examples/distill.cpp is the whole program):
//
//   tandem::Accelerator accelerator({{"student", DeepSpeedPlugin::from("zero2_config.json")},
//                                    {"teacher", DeepSpeedPlugin::from("zero3_config.json")}});
//   tandem::Prepared student = accelerator.prepare(student_inputs);   // "student" is active
//   accelerator.select("teacher");
//   tandem::Prepared teacher = accelerator.prepare(teacher_inputs);   // no optimizer: forward only
//   teacher.engine()->load(teacher_checkpoint, false);
//   tandem::Distiller distiller(*student.engine(), *teacher.engine(), {.alpha = 0.5, .temperature = 2});
//   for (...) distiller.step(batches, rank_steps);
//
// The teacher runs in eval mode with no gradients: an engine prepared from a config without an
// optimizer keeps none, and its forward(train = false) leaves every state as it was. Its forward
// runs on all ranks in lockstep (a ZeRO-3 forward gathers each layer from every rank); each rank
// says which micro-step its batch belongs to, and a rank that is not at the step the others are is
// a LockstepError naming the rank and the step, raised before any rank starts the forward.
//
// `tandem distill RUN.json` (distill()) is that loop with data, evaluation, checkpoints and metrics;
// docs/run-files.md lists the run file's keys.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tandem/engine.hpp"
#include "tandem/json.hpp"
#include "tandem/train.hpp"

namespace tandem {

// ---- Lockstep ------------------------------------------------------------------------------------

// A rank whose batch belongs to another step than the one every rank must be at.
class LockstepError : public std::runtime_error {
 public:
  LockstepError(std::string what, int32_t rank, int64_t step, int64_t rank_step)
      : std::runtime_error(std::move(what)), rank_(rank), step_(step), rank_step_(rank_step) {}
  int32_t rank() const { return rank_; }
  int64_t step() const { return step_; }            // the step every rank must be at
  int64_t rank_step() const { return rank_step_; }  // the step this rank's batch belongs to

 private:
  int32_t rank_;
  int64_t step_;
  int64_t rank_step_;
};

// Every rank's step must equal `step`; otherwise LockstepError for the first rank that differs:
//   "<who>: rank 1 left the lockstep at step 12: its batch belongs to step 13".
// std::invalid_argument if `rank_steps` does not have one entry per rank (`ranks`).
void check_lockstep(const std::vector<int64_t>& rank_steps, int64_t step, int32_t ranks, std::string_view who);

// ---- One distillation step -----------------------------------------------------------------------

struct DistillLoss {
  double alpha = 0.5;        // weight of the KL term: loss = CE + alpha * T^2 * KL
  double temperature = 2.0;  // T > 0: both distributions are softened by it
};

class Distiller {
 public:
  // The teacher must be forward-only (prepared without an optimizer) and the student trainable,
  // with the same vocabulary and the same ranks; std::invalid_argument otherwise, naming both.
  Distiller(Engine& student, Engine& teacher, DistillLoss loss);

  // One micro-step on every rank: checks the lockstep (rank_steps[r], the micro-step rank r's batch
  // belongs to, must equal the student's micro_steps()), runs the teacher's forward without
  // gradients, then the student's forward, backward and step on the same batches with the KD loss.
  // The student's optimizer steps on its accumulation boundary, as Engine::step does.
  //
  // `next`, when given, is the next micro-step's batches: the teacher's forward of them is queued
  // while the student's optimizer steps (Engine::step's during_step), so that on a GPU with the
  // optimizer offloaded to the host the teacher computes while the host steps. The next call uses
  // those logits if its batches' inputs are the same, and runs the teacher again otherwise; the
  // losses are the same either way.
  StepReport step(const std::vector<TokenBatch>& batches, const std::vector<int64_t>& rank_steps,
                  const std::vector<TokenBatch>* next = nullptr);

  const DistillLoss& loss() const { return loss_; }
  Engine& student() { return student_; }
  Engine& teacher() { return teacher_; }

 private:
  Engine& student_;
  Engine& teacher_;
  DistillLoss loss_;
  // The teacher's forward of `next` queued by the last step, and the inputs it was given.
  std::optional<Logits> prefetched_;
  std::vector<std::vector<int32_t>> prefetched_inputs_;
  uint64_t prefetched_forward_ = 0;  // the teacher's forward_count() after it: still current?
};

// ---- `tandem distill RUN.json` -------------------------------------------------------------------

struct TeacherSpec {
  ModelSpec model;
  json::Value deepspeed;         // an inline config, or null when deepspeed_source is a file
  std::string deepspeed_source;  // the config's file, or the run file for an inline one
  // A checkpoint written by `tandem train`: a step directory (engine.json, model.safetensors), or
  // the checkpoint_dir that holds them with its `latest` pointer.
  std::filesystem::path checkpoint;
};

struct DistillRunFile {
  // The student's model ("student.model"), its config ("student.deepspeed"), and the run's data and
  // loop keys, which are those of a `tandem train` run file (train.hpp).
  RunFile student;
  TeacherSpec teacher;
  DistillLoss loss;
  bool baseline = false;  // also train the same student without the teacher, for comparison
};

// Reads and checks a distill run file; errors name the file, the key and its line:column.
DistillRunFile load_distill_run_file(const std::filesystem::path& path);

// The directory under `teacher.checkpoint` to load: the path itself when it holds engine.json,
// else the checkpoint its `latest` names. std::invalid_argument naming the path (and how to make
// the checkpoint) when there is none.
std::filesystem::path resolve_teacher_checkpoint(const DistillRunFile& run);

struct DistillOptions {
  bool with_teacher = true;  // false: the baseline, the same student trained on cross-entropy alone
  bool resume = false;       // continue from the newest checkpoint in the student's checkpoint_dir
  std::filesystem::path resume_from;  // with resume: from this student checkpoint instead (not with a baseline)
  bool overwrite = false;    // start over in a checkpoint_dir that holds a run; replace existing metrics
  bool progress = true;
  bool skip_memory_check = false;  // as TrainOptions
  std::optional<int64_t> stop_after;  // stop after this optimizer step (tests: an interrupted run)
  const StopRequest* stop = nullptr;  // polled at each optimizer step (tandem/train.hpp)
  std::vector<std::filesystem::path> module_path;  // scanned after the default module directories
};

struct DistillSummary {
  TrainSummary student;         // steps, losses, validation loss, tokens/s, last checkpoint
  double kd_loss = 0;           // the last micro-step's distillation term (0 for the baseline)
  std::optional<double> teacher_val_loss;  // the teacher on the same validation batches (none for the baseline,
                                          // and without validation batches)
  bool with_teacher = true;
};

// Trains the student as the run file says. With the teacher: the seed's sequence on a State of two
// plugins {"student", "teacher"} (the student prepared while "student" is active, then "teacher"
// selected and the teacher prepared with no optimizer and loaded from its checkpoint). Without it
// (the baseline): the same student, data, seed and steps, on cross-entropy alone; its checkpoints
// go to "<checkpoint_dir>-baseline" and its metrics to "<metrics stem>-baseline<ext>", so that the
// two runs never mix.
DistillSummary distill(const DistillRunFile& run, const DistillOptions& options);

}  // namespace tandem
