// One distillation step's math: the loss is CE + alpha * T^2 * KL(teacher_T || student_T), with
// both terms checked against a reference computed here in double from the two models' logits; the
// KD term reaches the gradient (alpha = 0 trains exactly as cross-entropy alone, alpha > 0 does
// not, and steps on the KL alone pull the student toward the teacher); the teacher stays untouched.
#include <gtest/gtest.h>

#include <cmath>

#include "distill_support.hpp"
#include "tandem/distill.hpp"

namespace tandem {
namespace {

using test::batches;
using test::bitwise_equal;

struct Pair {
  Prepared student, teacher;
};

// A fresh State with the seed's two plugins (stage 0: the math does not depend on the stage) and
// both models prepared, the student first.
Pair prepare_pair(int ranks = 2, uint64_t student_seed = 22) {
  State::reset();
  AcceleratorOptions options;
  options.world_size = ranks;
  Accelerator accelerator({{"student", DeepSpeedPlugin(test::trained_config(0))},
                           {"teacher", DeepSpeedPlugin(test::frozen_config(0))}},
                          options);
  PrepareInputs in;
  in.micro_batch = 2;
  in.model = test::student_model(student_seed);
  Prepared student = accelerator.prepare(in);
  accelerator.select("teacher");
  in.model = test::teacher_model();
  Prepared teacher = accelerator.prepare(in);
  // A teacher with opinions: its initial weights scaled up, so that its distributions are far from
  // the student's near-uniform ones and the KL is well above fp32 rounding.
  test::Weights weights = teacher.engine()->parameters();
  for (auto& [name, values] : weights)
    for (float& v : values) v *= 4.0f;
  teacher.engine()->set_parameters(weights);
  return Pair{std::move(student), std::move(teacher)};
}

std::vector<std::vector<float>> copy_logits(const Logits& l) {
  std::vector<std::vector<float>> out;
  const size_t n = static_cast<size_t>(l.batch * l.seq * l.vocab);
  for (const float* p : l.per_rank) out.emplace_back(p, p + n);
  return out;
}

// log softmax of row / T, in double.
std::vector<double> log_softmax(const float* row, int64_t vocab, double temperature) {
  double top = -INFINITY;
  for (int64_t j = 0; j < vocab; ++j) top = std::max(top, row[j] / temperature);
  double sum = 0;
  for (int64_t j = 0; j < vocab; ++j) sum += std::exp(row[j] / temperature - top);
  std::vector<double> out(static_cast<size_t>(vocab));
  for (int64_t j = 0; j < vocab; ++j) out[static_cast<size_t>(j)] = row[j] / temperature - top - std::log(sum);
  return out;
}

struct Reference {
  double ce = 0, kd = 0;
};

// Mean over ranks of each rank's mean CE over its targets and mean KD term over its rows.
Reference reference(const std::vector<std::vector<float>>& student, const std::vector<std::vector<float>>& teacher,
                    const std::vector<TokenBatch>& b, int64_t vocab, double alpha, double temperature) {
  Reference ref;
  for (size_t r = 0; r < b.size(); ++r) {
    const int64_t rows = b[r].batch * b[r].seq;
    double ce = 0, kd = 0;
    for (int64_t i = 0; i < rows; ++i) {
      const float* s = student[r].data() + i * vocab;
      const float* t = teacher[r].data() + i * vocab;
      ce -= log_softmax(s, vocab, 1.0)[static_cast<size_t>(b[r].targets[static_cast<size_t>(i)])];
      const std::vector<double> ls = log_softmax(s, vocab, temperature), lt = log_softmax(t, vocab, temperature);
      double kl = 0;
      for (int64_t j = 0; j < vocab; ++j) kl += std::exp(lt[static_cast<size_t>(j)]) * (lt[static_cast<size_t>(j)] - ls[static_cast<size_t>(j)]);
      kd += alpha * temperature * temperature * kl;
    }
    ref.ce += ce / static_cast<double>(rows) / static_cast<double>(b.size());
    ref.kd += kd / static_cast<double>(rows) / static_cast<double>(b.size());
  }
  return ref;
}

TEST(DistillStep, TheLossIsCrossEntropyPlusAlphaTSquaredKl) {
  for (const auto& [alpha, temperature] : {std::pair{0.5, 2.0}, std::pair{0.9, 1.0}, std::pair{2.0, 4.0}}) {
    SCOPED_TRACE("alpha " + std::to_string(alpha) + ", T " + std::to_string(temperature));
    Pair p = prepare_pair();
    const std::vector<TokenBatch> b = batches(2, 7);
    const auto student_logits = copy_logits(p.student.engine()->forward(b, false));
    const auto teacher_logits = copy_logits(p.teacher.engine()->forward(b, false));
    const Reference ref = reference(student_logits, teacher_logits, b, p.student.engine()->vocab_size(), alpha, temperature);
    ASSERT_GT(ref.kd, 0.1 * alpha);  // the two models disagree: the KD term is far from zero

    Distiller distiller(*p.student.engine(), *p.teacher.engine(), DistillLoss{alpha, temperature});
    const StepReport r = distiller.step(b, {0, 0});
    EXPECT_NEAR(r.ce_loss, ref.ce, 1e-5 * ref.ce);
    EXPECT_NEAR(r.kd_loss, ref.kd, 1e-5 * ref.kd);  // fp32 against double
    EXPECT_DOUBLE_EQ(r.loss, r.ce_loss + r.kd_loss);
  }
}

TEST(DistillStep, AlphaZeroTrainsExactlyAsCrossEntropyAloneAndAlphaAboveZeroDoesNot) {
  auto train = [](std::optional<double> alpha) {
    Pair p = prepare_pair();
    std::optional<Distiller> d;
    if (alpha) d.emplace(*p.student.engine(), *p.teacher.engine(), DistillLoss{*alpha, 2.0});
    for (int64_t step = 0; step < 3; ++step) {
      const std::vector<TokenBatch> b = batches(2, 30 + static_cast<uint64_t>(step));
      if (d) {
        d->step(b, {step, step});
      } else {
        p.student.engine()->forward(b, true);
        p.student.engine()->backward(LossSpec{&b});
        p.student.engine()->step();
      }
    }
    return p.student.engine()->parameters();
  };
  const test::Weights alone = train(std::nullopt);
  EXPECT_TRUE(bitwise_equal(train(0.0), alone));
  EXPECT_FALSE(bitwise_equal(train(0.5), alone));
}

TEST(DistillStep, StepsPullTheStudentTowardTheTeacherAndLeaveTheTeacherBitwiseUnchanged) {
  // KL(teacher || student) on a batch after 10 steps on it, with the KD term and without.
  const std::vector<TokenBatch> b = batches(2, 5);
  double before = 0;
  auto kl_after = [&](double alpha) {
    Pair p = prepare_pair();
    Engine& student = *p.student.engine();
    Engine& teacher = *p.teacher.engine();
    auto kl_now = [&] {
      const auto s = copy_logits(student.forward(b, false));
      const auto t = copy_logits(teacher.forward(b, false));
      return reference(s, t, b, student.vocab_size(), 1.0, 1.0).kd;
    };
    before = kl_now();
    const test::Weights teacher_before = teacher.parameters();
    Distiller distiller(student, teacher, DistillLoss{alpha, 1.0});
    for (int64_t step = 0; step < 10; ++step) distiller.step(b, {step, step});
    // The teacher is untouched, however much the student moved.
    EXPECT_TRUE(bitwise_equal(teacher.parameters(), teacher_before));
    EXPECT_EQ(teacher.global_steps(), 0);
    EXPECT_EQ(teacher.micro_steps(), 0);
    EXPECT_THROW(teacher.forward(b, true), std::invalid_argument);  // no training forward: no gradients
    EXPECT_THROW(teacher.backward(LossSpec{&b}), std::invalid_argument);
    return kl_now();
  };
  const double with_kd = kl_after(4.0), cross_entropy_only = kl_after(0.0);
  EXPECT_LT(with_kd, 0.8 * before) << "KL went from " << before << " to " << with_kd;
  EXPECT_LT(with_kd, 0.8 * cross_entropy_only) << "without the KD term the KL ends at " << cross_entropy_only;
}

TEST(DistillStep, ThePrefetchedTeacherForwardChangesNoBitAndIsRedoneWhenStale) {
  // The next batches' teacher forward queued during each step (Distiller::step's `next`) gives the
  // losses and weights of the plain loop; logits that went stale (another teacher forward came in
  // between, or the next batches were not the ones announced) are computed again.
  std::vector<std::vector<TokenBatch>> b;
  for (uint64_t i = 0; i < 5; ++i) b.push_back(batches(2, 40 + i));
  enum class Mode { plain, prefetch, interrupted, wrong_guess };
  auto run = [&](Mode mode, uint64_t* teacher_forwards) {
    Pair p = prepare_pair();
    Engine& student = *p.student.engine();
    Engine& teacher = *p.teacher.engine();
    Distiller distiller(student, teacher, DistillLoss{2.0, 1.5});
    std::vector<double> losses;
    for (size_t i = 0; i < b.size(); ++i) {
      const std::vector<TokenBatch>* next = i + 1 < b.size() ? &b[i + 1] : nullptr;
      if (mode == Mode::plain) next = nullptr;
      if (mode == Mode::wrong_guess && next != nullptr) next = &b[0];
      const int64_t step = static_cast<int64_t>(i);
      losses.push_back(distiller.step(b[i], {step, step}, next).loss);
      if (mode == Mode::interrupted) teacher.forward(b[0], false);  // an evaluation, say
    }
    *teacher_forwards = teacher.forward_count();
    losses.push_back(0);  // then the weights, bit for bit
    for (const auto& [name, values] : student.parameters())
      for (float v : values) losses.push_back(v);
    return losses;
  };
  uint64_t forwards = 0;
  const std::vector<double> plain = run(Mode::plain, &forwards);
  EXPECT_EQ(forwards, 5u);
  EXPECT_EQ(run(Mode::prefetch, &forwards), plain);
  EXPECT_EQ(forwards, 5u) << "each prefetched forward is used";
  EXPECT_EQ(run(Mode::interrupted, &forwards), plain);
  EXPECT_EQ(forwards, 5u + 4u + 5u) << "4 prefetches, 5 interruptions, 5 forwards again";
  EXPECT_EQ(run(Mode::wrong_guess, &forwards), plain);
  EXPECT_EQ(forwards, 1u + 4u + 4u) << "the first step, 4 wrong guesses, 4 forwards again";
}

TEST(DistillStep, TheDistillerRefusesMismatchedEngines) {
  Pair p = prepare_pair();
  // Teacher and student swapped: the "teacher" trains and the "student" does not.
  EXPECT_THROW(Distiller(*p.teacher.engine(), *p.student.engine(), DistillLoss{}), std::invalid_argument);
  EXPECT_THROW(Distiller(*p.student.engine(), *p.teacher.engine(), DistillLoss{0.5, 0.0}), std::invalid_argument);

  // A teacher with another vocabulary.
  State::reset();
  Accelerator accelerator({{"student", DeepSpeedPlugin(test::trained_config(0))},
                           {"teacher", DeepSpeedPlugin(test::frozen_config(0))}});
  PrepareInputs in;
  in.micro_batch = 2;
  in.model = test::student_model();
  Prepared student = accelerator.prepare(in);
  accelerator.select("teacher");
  in.model = test::teacher_model();
  in.model->params.set("vocab_size", json::Value::integer(64));
  Prepared teacher = accelerator.prepare(in);
  try {
    Distiller d(*student.engine(), *teacher.engine(), DistillLoss{});
    FAIL() << "a teacher with another vocabulary was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("64"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tandem
