// `tandem eval`'s loss (tandem/eval.hpp): against the same model in double (gpt_core's GptModel<double>
// over every window, cross-entropy in double), and against the cross-entropy the training loop's
// engine reports for a micro-batch of the same windows from the same weights.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "gpt_model.hpp"
#include "tandem/compute/param_access.hpp"
#include "tandem/eval.hpp"
#include "trained_model.hpp"

namespace tandem {
namespace {

std::vector<uint16_t> random_stream(size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<uint16_t> ids(n);
  for (uint16_t& t : ids) t = static_cast<uint16_t>(gen() % 32);
  return ids;
}

// The mean cross-entropy of evaluate_stream's windows, in double throughout.
double double_reference(const Engine& engine, const std::vector<uint16_t>& ids, int64_t seq) {
  const gpt::GptConfig cfg{2, 2, 16, 32, 16};
  compute::ResidentParams store(gpt::gpt_param_infos(cfg), compute::DType::f64);
  const auto params = engine.parameters();
  for (size_t i = 0; i < params.size(); ++i)
    std::copy(params[i].second.begin(), params[i].second.end(), store.param(i).as<double>());
  gpt::GptModel<double> model(cfg);
  double total = 0;
  int64_t count = 0;
  for (int64_t w = 0; (w + 1) * seq + 1 <= static_cast<int64_t>(ids.size()); ++w) {
    std::vector<int32_t> in(ids.begin() + w * seq, ids.begin() + w * seq + seq);
    const double* z = model.forward(store, in.data(), 1, seq, false).as<double>();
    for (int64_t t = 0; t < seq; ++t, ++count) {
      const double* row = z + t * cfg.vocab_size;
      const double top = *std::max_element(row, row + cfg.vocab_size);
      double sum = 0;
      for (int64_t v = 0; v < cfg.vocab_size; ++v) sum += std::exp(row[v] - top);
      total += top + std::log(sum) - row[ids[static_cast<size_t>(w * seq + t + 1)]];
    }
  }
  return total / static_cast<double>(count);
}

TEST(Eval, MeanCrossEntropyEqualsTheDoubleReferenceOverEveryWindow) {
  InferenceModel m = test::load_trained();
  const std::vector<uint16_t> ids = random_stream(5 * 8 + 4, 1);  // 5 windows of 8; 3 tokens left over
  const EvalResult r = evaluate_stream(m.engine(), ids, /*batch=*/2, /*seq=*/8);  // batches of 2, 2, 1
  EXPECT_EQ(r.windows, 5);
  EXPECT_EQ(r.tokens, 40);
  const double want = double_reference(m.engine(), ids, 8);
  EXPECT_NEAR(r.loss, want, 1e-6 * want);
  EXPECT_NEAR(r.perplexity, std::exp(want), 1e-5 * std::exp(want));
  // The batch size changes nothing but the rounding.
  EXPECT_NEAR(evaluate_stream(m.engine(), ids, 5, 8).loss, r.loss, 1e-6);
}

TEST(Eval, EqualsTheLossTheTrainingLoopReportsForTheSameWindows) {
  // An engine that trains (ZeRO-0, one rank): its checkpoint, then the cross-entropy its backward
  // reports for a micro-batch of the stream's windows, computed from those same weights.
  const std::vector<uint16_t> ids = random_stream(4 * 16 + 1, 2);
  State::reset();
  PluginSet plugins;
  plugins.add("model", DeepSpeedPlugin(test::tiny_config(0, 1, 0.0)));
  Accelerator accelerator(std::move(plugins));
  PrepareInputs in;
  in.model = test::tiny_shape();
  in.micro_batch = 4;
  Prepared trainer = accelerator.prepare(in);
  const std::filesystem::path ckpt = test::temp_dir("eval-vs-train") / "step-0";
  std::filesystem::create_directories(ckpt);
  trainer.engine()->save(ckpt);
  TokenBatch batch;
  batch.batch = 4;
  batch.seq = 16;
  for (int64_t w = 0; w < 4; ++w)
    for (int64_t t = 0; t < 16; ++t) {
      batch.inputs.push_back(ids[static_cast<size_t>(w * 16 + t)]);
      batch.targets.push_back(ids[static_cast<size_t>(w * 16 + t + 1)]);
    }
  const std::vector<TokenBatch> batches{batch};
  trainer.engine()->forward(batches);
  const double reported = trainer.engine()->backward(LossSpec{&batches}).ce_loss;

  InferenceModel m = InferenceModel::load(ckpt, {.model = test::tiny_shape()});
  const EvalResult r = evaluate_stream(m.engine(), ids, 4, 16);
  EXPECT_EQ(r.windows, 4);
  EXPECT_NEAR(r.loss, reported, 1e-6 * reported);
}

TEST(Eval, RefusesTooLittleDataAndAWindowBeyondTheModel) {
  InferenceModel m = test::load_trained();
  const std::vector<uint16_t> ids = random_stream(8, 3);
  try {
    evaluate_stream(m.engine(), ids, 1, 8);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("8 tokens, fewer than one window of --seq 8 + 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(evaluate_stream(m.engine(), random_stream(100, 3), 1, 17), std::invalid_argument);
  EXPECT_THROW(evaluate_stream(m.engine(), ids, 0, 4), std::invalid_argument);
}

}  // namespace
}  // namespace tandem
