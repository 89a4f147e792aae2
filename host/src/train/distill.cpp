// One distillation step over every rank, and the lockstep check before it (distill.hpp).
#include "tandem/distill.hpp"

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

StepReport Distiller::step(const std::vector<TokenBatch>& batches, const std::vector<int64_t>& rank_steps) {
  check_lockstep(rank_steps, student_.micro_steps(), student_.world_size(), "teacher forward (" + teacher_.name() + ")");
  // The teacher's logits stay valid until its next forward, which is the next step's.
  const Logits teacher_logits = teacher_.forward(batches, false);
  student_.forward(batches, true);
  return student_.backward(LossSpec{&batches, &teacher_logits, loss_.alpha, loss_.temperature});
}

}  // namespace tandem
