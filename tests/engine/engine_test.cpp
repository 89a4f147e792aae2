// The engine's semantics, as DeepSpeed's engine defines them: gradient accumulation, averaging over
// ranks, clipping, determinism, checkpoints, inference-only engines.
#include <gtest/gtest.h>

#include <cmath>

#include "engine_support.hpp"
#include "tandem/checkpoint_manifest.hpp"
#include "tandem/safetensors.hpp"

namespace tandem {
namespace {

using test::prepare_tiny;
using test::random_batch;
using test::rows_of;
using test::tiny_config;

double max_relative_difference(const Engine& a, const Engine& b) {
  const auto pa = a.parameters(), pb = b.parameters();
  double worst = 0;
  for (size_t i = 0; i < pa.size(); ++i)
    for (size_t j = 0; j < pa[i].second.size(); ++j) {
      const double x = pa[i].second[j], y = pb[i].second[j];
      worst = std::max(worst, std::abs(x - y) / std::max(1e-3, std::abs(x)));
    }
  return worst;
}

// Adam's first moment after one step is (1 - beta1) times the (clipped) gradient: comparing it
// compares the gradients two ways of batching produced, which Adam's normalised update would hide.
std::vector<float> first_moment(const Engine& e) {
  const auto dir = test::temp_dir("moment");
  e.save(dir);
  std::vector<float> m = safetensors::File::open(dir / "rank0.safetensors").read_f32("optimizer.exp_avg");
  std::filesystem::remove_all(dir);
  return m;
}

void expect_same_first_moment(const Engine& a, const Engine& b) {
  const std::vector<float> ma = first_moment(a), mb = first_moment(b);
  ASSERT_EQ(ma.size(), mb.size());
  float largest = 0;
  for (float v : ma) largest = std::max(largest, std::abs(v));
  ASSERT_GT(largest, 0.0f);
  for (size_t i = 0; i < ma.size(); ++i) ASSERT_NEAR(ma[i], mb[i], 1e-5f * largest) << i;
}

TEST(Engine, TrainingIsDeterministic) {
  std::vector<double> losses[2];
  for (auto& run : losses) {
    Prepared p = prepare_tiny(tiny_config(0, 1, 1.0), 2, 2);
    for (int step = 0; step < 4; ++step) {
      const std::vector<TokenBatch> batches{random_batch(2, 8, 32, 10 + step), random_batch(2, 8, 32, 20 + step)};
      p.engine()->forward(batches);
      p.engine()->backward(LossSpec{&batches});
      run.push_back(p.engine()->step().loss);
    }
  }
  EXPECT_EQ(losses[0], losses[1]);  // bit for bit
  EXPECT_LT(losses[0].back(), losses[0].front());
}

TEST(Engine, AccumulationEqualsOneLargerBatch) {
  // gas = 2 over two halves of a batch takes the same step as gas = 1 over the whole batch (the loss
  // is divided by gas before backward); equal up to fp32 rounding of the summation order.
  const TokenBatch whole = random_batch(4, 8, 32, 99);
  Prepared one = prepare_tiny(tiny_config(0, 1, 0.0), 1, 4);
  std::vector<TokenBatch> all{whole};
  one.engine()->forward(all);
  one.engine()->backward(LossSpec{&all});
  const StepReport a = one.engine()->step();
  EXPECT_TRUE(a.stepped);

  Prepared two = prepare_tiny(tiny_config(0, 2, 0.0), 1, 2);
  std::vector<TokenBatch> first{rows_of(whole, 0, 2)}, second{rows_of(whole, 2, 2)};
  two.engine()->forward(first);
  two.engine()->backward(LossSpec{&first});
  const StepReport b1 = two.engine()->step();
  EXPECT_FALSE(b1.boundary);
  EXPECT_EQ(two.engine()->global_steps(), 0);
  two.engine()->forward(second);
  two.engine()->backward(LossSpec{&second});
  const StepReport b2 = two.engine()->step();
  EXPECT_TRUE(b2.stepped);
  EXPECT_NEAR(b2.grad_norm, a.grad_norm, 1e-5 * a.grad_norm);
  expect_same_first_moment(*one.engine(), *two.engine());
}

TEST(Engine, RanksAverageLikeOneBatch) {
  const TokenBatch whole = random_batch(4, 8, 32, 5);
  Prepared one = prepare_tiny(tiny_config(0, 1, 0.0), 1, 4);
  std::vector<TokenBatch> all{whole};
  one.engine()->forward(all);
  one.engine()->backward(LossSpec{&all});
  const StepReport a = one.engine()->step();

  Prepared two = prepare_tiny(tiny_config(0, 1, 0.0), 2, 2);
  std::vector<TokenBatch> halves{rows_of(whole, 0, 2), rows_of(whole, 2, 2)};
  two.engine()->forward(halves);
  two.engine()->backward(LossSpec{&halves});
  const StepReport b = two.engine()->step();
  EXPECT_NEAR(b.loss, a.loss, 1e-5 * a.loss);
  EXPECT_NEAR(b.grad_norm, a.grad_norm, 1e-5 * a.grad_norm);
  expect_same_first_moment(*one.engine(), *two.engine());
}

// Adam's first moment after one step is (1 - beta1) * scaled gradient: clipping shows in it exactly.
std::vector<float> first_moment_after_one_step(double clip, const std::filesystem::path& dir, double* norm) {
  Prepared p = prepare_tiny(tiny_config(0, 1, clip), 1, 2);
  std::vector<TokenBatch> batch{random_batch(2, 8, 32, 3)};
  p.engine()->forward(batch);
  p.engine()->backward(LossSpec{&batch});
  *norm = p.engine()->step().grad_norm;
  p.engine()->save(dir);
  return safetensors::File::open(dir / "rank0.safetensors").read_f32("optimizer.exp_avg");
}

TEST(Engine, ClippingScalesGradientsAsDeepSpeedDoes) {
  const auto dir = test::temp_dir("clip");
  std::filesystem::create_directories(dir / "a");
  std::filesystem::create_directories(dir / "b");
  double norm = 0, norm_clipped = 0;
  const std::vector<float> free = first_moment_after_one_step(0.0, dir / "a", &norm);
  const double clip = 0.05;
  const std::vector<float> clipped = first_moment_after_one_step(clip, dir / "b", &norm_clipped);
  EXPECT_EQ(norm, norm_clipped);  // the reported norm is the one before clipping
  ASSERT_GT(norm, clip);
  const double scale = 1.0 / ((norm + 1e-6) / clip);
  size_t checked = 0;
  for (size_t i = 0; i < free.size(); ++i)
    if (std::abs(free[i]) > 1e-6f) {
      EXPECT_NEAR(clipped[i], free[i] * scale, 1e-5 * std::abs(free[i] * scale) + 1e-12) << i;
      ++checked;
    }
  EXPECT_GT(checked, 100u);
  std::filesystem::remove_all(dir);
}

TEST(Engine, ResumeFromACheckpointIsBitExact) {
  const auto dir = test::temp_dir("resume");
  auto batches_for = [](int step) {
    return std::vector<TokenBatch>{random_batch(2, 8, 32, 100 + step), random_batch(2, 8, 32, 200 + step)};
  };
  auto train = [&](Engine& e, int from, int to) {
    std::vector<double> losses;
    for (int s = from; s < to; ++s) {
      const auto b = batches_for(s);
      e.forward(b);
      e.backward(LossSpec{&b});
      losses.push_back(e.step().loss);
    }
    return losses;
  };
  DeepSpeedConfig config = tiny_config(
      0, 1, 1.0,
      R"(, "scheduler": {"type": "WarmupDecayLR", "params": {"warmup_num_steps": 2, "total_num_steps": 8, "warmup_max_lr": 0.01}})");
  Prepared whole = prepare_tiny(config, 2, 2);
  const std::vector<double> expected = train(*whole.engine(), 0, 8);

  Prepared first = prepare_tiny(config, 2, 2);
  train(*first.engine(), 0, 3);
  first.engine()->save(dir);
  Prepared resumed = prepare_tiny(config, 2, 2, /*seed=*/999);  // other initial weights: all must come from the files
  resumed.engine()->load(dir);
  EXPECT_EQ(resumed.engine()->global_steps(), 3);
  EXPECT_EQ(resumed.engine()->scheduler()->iteration(), first.engine()->scheduler()->iteration());
  const std::vector<double> rest = train(*resumed.engine(), 3, 8);
  EXPECT_EQ(rest, std::vector<double>(expected.begin() + 3, expected.end()));
  EXPECT_EQ(max_relative_difference(*whole.engine(), *resumed.engine()), 0.0);
  std::filesystem::remove_all(dir);
}

TEST(Engine, LoadsAHuggingFaceGpt2File) {
  // A file laid out as transformers writes GPT-2: names without "transformer.", the attention mask
  // buffers beside the weights. Values are made here, independently of the engine.
  Prepared p = prepare_tiny(tiny_config(0, 1, 1.0), 1, 2);
  std::vector<std::vector<float>> values;
  std::vector<safetensors::TensorData> tensors;
  const auto names = p.engine()->parameters();
  values.reserve(names.size() + 2);
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<float> v(names[i].second.size());
    for (size_t j = 0; j < v.size(); ++j) v[j] = static_cast<float>(0.001 * static_cast<double>(i * 131 + j % 97));
    values.push_back(std::move(v));
    std::string hf = names[i].first.substr(std::string("transformer.").size());
    tensors.push_back(safetensors::f32_tensor(hf, p.engine()->parameter_shape(i), values.back()));
  }
  std::vector<float> mask(64, 1.0f);
  values.push_back(mask);
  tensors.push_back(safetensors::f32_tensor("h.0.attn.bias", {1, 1, 8, 8}, values.back()));
  const auto dir = test::temp_dir("hf");
  safetensors::write(dir / "model.safetensors", tensors);
  p.engine()->load_weights(dir / "model.safetensors");
  const auto loaded = p.engine()->parameters();
  for (size_t i = 0; i < loaded.size(); ++i) EXPECT_EQ(loaded[i].second, values[i]) << loaded[i].first;

  // A shape that differs is named.
  tensors[0] = safetensors::f32_tensor("wte.weight", {31, 16}, std::span<const float>(values[0].data(), 31 * 16));
  safetensors::write(dir / "bad.safetensors", tensors);
  try {
    p.engine()->load_weights(dir / "bad.safetensors");
    FAIL();
  } catch (const safetensors::Error& e) {
    EXPECT_NE(std::string(e.what()).find("wte.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[32, 16]"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(Engine, ACheckpointWithoutOptimizerStateLoadsOnlyAsWeights) {
  // Another world size loads with its optimizer state (tests/engine/reshard_test.cpp); a forward-only
  // engine's checkpoint has none to give a trained engine.
  const auto dir = test::temp_dir("mismatch");
  Prepared forward_only =
      prepare_tiny(load_config_text(R"({"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 3}})"), 2, 2);
  forward_only.engine()->save(dir);
  Prepared one = prepare_tiny(tiny_config(0, 1, 1.0), 1, 2);
  try {
    one.engine()->load(dir);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("the checkpoint has no optimizer state; load it without"), std::string::npos)
        << e.what();
  }
  one.engine()->load(dir, /*with_optimizer=*/false);  // the weights alone load
  std::filesystem::remove_all(dir);
}

TEST(Engine, RankShardsSwappedBetweenRanksAreRefusedOnLoad) {
  const auto dir = test::temp_dir("swapped");
  Prepared saved = prepare_tiny(tiny_config(2, 1, 1.0), 2, 2);
  saved.engine()->save(dir);
  std::filesystem::rename(dir / "rank0.safetensors", dir / "swap.safetensors");
  std::filesystem::rename(dir / "rank1.safetensors", dir / "rank0.safetensors");
  std::filesystem::rename(dir / "swap.safetensors", dir / "rank1.safetensors");
  Prepared loaded = prepare_tiny(tiny_config(2, 1, 1.0), 2, 2);
  EXPECT_THROW(loaded.engine()->load(dir), std::runtime_error) << "the manifest's checksums catch it first";
  std::filesystem::remove(dir / kCheckpointManifestFile);  // as a checkpoint from before manifests
  try {
    loaded.engine()->load(dir);
    FAIL() << "equal-sized shards of the wrong ranks loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("rank0.safetensors: holds rank 1's shard, not rank 0's"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(Engine, AStageThreeConfigWithoutOptimizerGivesAForwardOnlyEngine) {
  Prepared p = prepare_tiny(load_config_text(R"({"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 3}})"), 2, 2);
  EXPECT_FALSE(p.engine()->trains());
  const std::vector<TokenBatch> b{random_batch(2, 8, 32, 1), random_batch(2, 8, 32, 2)};
  EXPECT_THROW(p.engine()->forward(b, true), std::invalid_argument);
  const Logits logits = p.engine()->forward(b, false);
  EXPECT_EQ(logits.vocab, 32);
  EXPECT_TRUE(std::isfinite(logits.per_rank[1][0]));
}

TEST(Engine, StagesOneAndTwoNeedAnOptimizer) {
  for (int stage : {1, 2}) {
    try {
      prepare_tiny(load_config_text(R"({"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": )" +
                                    std::to_string(stage) + "}}"),
                   1, 2);
      FAIL();
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("needs an optimizer"), std::string::npos) << e.what();
    }
  }
}

TEST(Engine, BadBatchesAreRefused) {
  Prepared p = prepare_tiny(tiny_config(0, 1, 1.0), 2, 2);
  EXPECT_THROW(p.engine()->forward({random_batch(2, 8, 32, 1)}), std::invalid_argument);  // one rank short
  EXPECT_THROW(p.engine()->forward({random_batch(2, 9, 32, 1), random_batch(2, 9, 32, 2)}),
               std::invalid_argument);  // longer than block_size
  const std::vector<TokenBatch> b{random_batch(2, 8, 32, 1), random_batch(2, 8, 32, 2)};
  EXPECT_THROW(p.engine()->backward(LossSpec{&b}), std::invalid_argument);  // no forward yet
}

TEST(Engine, AFailingRankEndsTheOthersWithItsError) {
  Prepared p = prepare_tiny(tiny_config(0, 1, 1.0), 2, 2);
  std::vector<TokenBatch> b{random_batch(2, 8, 32, 1), random_batch(2, 8, 32, 2)};
  b[1].targets[3] = 77;  // out of the vocabulary on rank 1 only: rank 0 goes on to the all-reduce
  p.engine()->forward(b);
  try {
    p.engine()->backward(LossSpec{&b});
    p.engine()->step();
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("77"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tandem
