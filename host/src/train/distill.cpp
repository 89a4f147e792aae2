// One distillation step over every rank, and the lockstep check before it (distill.hpp).
#include "tandem/distill.hpp"

#include <functional>
#include <utility>

namespace tandem {

void check_lockstep(const std::vector<int64_t>& rank_steps, int64_t step, int32_t ranks, std::string_view who) {
  if (rank_steps.size() != static_cast<size_t>(ranks))
    throw std::invalid_argument(std::string(who) + ": one step per rank expected (" + std::to_string(ranks) +
                                "), got " + std::to_string(rank_steps.size()));
  for (size_t r = 0; r < rank_steps.size(); ++r)
    if (rank_steps[r] != step)
      throw LockstepError(std::string(who) + ": rank " + std::to_string(r) + " left the lockstep at step " +
                              std::to_string(step) + ": its batch belongs to step " + std::to_string(rank_steps[r]) +
                              " (every rank must feed the same step, or the teacher's collective forward would "
                              "pair layers of different batches and hang)",
                          static_cast<int32_t>(r), step, rank_steps[r]);
}

Distiller::Distiller(Engine& student, Engine& teacher, DistillLoss loss)
    : student_(student), teacher_(teacher), loss_(loss) {
  if (!student.trains())
    throw std::invalid_argument("distillation: the student engine '" + student.name() +
                                "' has no optimizer; prepare it with a config that trains");
  if (teacher.trains())
    throw std::invalid_argument("distillation: the teacher engine '" + teacher.name() +
                                "' has an optimizer; the teacher is frozen: prepare it with a config without "
                                "\"optimizer\" (as the seed's zero3_config.json)");
  if (student.vocab_size() != teacher.vocab_size())
    throw std::invalid_argument("distillation: the student '" + student.name() + "' has a vocabulary of " +
                                std::to_string(student.vocab_size()) + " tokens and the teacher '" + teacher.name() +
                                "' " + std::to_string(teacher.vocab_size()) + "; the KL needs the same vocabulary");
  if (student.world_size() != teacher.world_size())
    throw std::invalid_argument("distillation: the student runs on " + std::to_string(student.world_size()) +
                                " ranks and the teacher on " + std::to_string(teacher.world_size()));
  if (!(loss.temperature > 0)) throw std::invalid_argument("distillation: the temperature must be > 0");
  if (!(loss.alpha >= 0)) throw std::invalid_argument("distillation: alpha must be >= 0");
}

namespace {

bool same_inputs(const std::vector<TokenBatch>& batches, const std::vector<std::vector<int32_t>>& inputs) {
  if (batches.size() != inputs.size()) return false;
  for (size_t r = 0; r < batches.size(); ++r)
    if (batches[r].inputs != inputs[r]) return false;
  return true;
}

}  // namespace

StepReport Distiller::step(const std::vector<TokenBatch>& batches, const std::vector<int64_t>& rank_steps,
                           const std::vector<TokenBatch>* next) {
  check_lockstep(rank_steps, student_.micro_steps(), student_.world_size(), "teacher forward (" + teacher_.name() + ")");
  // The teacher's logits stay valid until its next forward: the next step's, or the one queued in
  // this step's during_step (Engine::step), after the student's loss has read them.
  std::optional<Logits> prefetched = std::exchange(prefetched_, std::nullopt);
  const Logits teacher_logits =
      prefetched && teacher_.forward_count() == prefetched_forward_ && same_inputs(batches, prefetched_inputs_)
          ? *prefetched
          : teacher_.forward(batches, false);
  student_.forward(batches, true);
  student_.backward(LossSpec{&batches, &teacher_logits, loss_.alpha, loss_.temperature});
  std::function<void()> during_step;
  if (next != nullptr)
    during_step = [this, next] {
      prefetched_inputs_.clear();
      for (const TokenBatch& b : *next) prefetched_inputs_.push_back(b.inputs);
      prefetched_ = teacher_.forward(*next, false);
      prefetched_forward_ = teacher_.forward_count();
    };
  return student_.step(during_step);
}

}  // namespace tandem
