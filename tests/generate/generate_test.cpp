// Generation (tandem/generate.hpp) on a tiny trained model loaded from a ZeRO-2, 2-rank checkpoint:
// with the model's KV cache it gives forward()'s tokens token for token and its logits within 1e-5 at
// every step; greedy is deterministic and continues the pattern it learned; top-k 1 is greedy; the
// same seed repeats; a prompt that does not fit is refused.
#include <gtest/gtest.h>

#include <cmath>

#include "tandem/generate.hpp"
#include "tandem/safetensors.hpp"
#include "trained_model.hpp"

namespace tandem {
namespace {

using test::load_trained;

TEST(Generate, KvCacheGivesTheFullForwardsTokensAndLogitsAtEveryStep) {
  InferenceModel m = load_trained();
  const std::vector<int32_t> prompt = {3, 4, 5};
  for (const SamplingOptions& s : {SamplingOptions{.temperature = 0}, SamplingOptions{.temperature = 1.5, .seed = 11},
                                   SamplingOptions{.temperature = 1.2, .top_k = 5, .top_p = 0.9, .seed = 3}}) {
    GenerateOptions cached{.max_new_tokens = 13, .sampling = s, .kv_cache = true, .keep_logits = true};
    GenerateOptions full = cached;
    full.kv_cache = false;
    const Generated a = generate(m.engine(), prompt, cached), b = generate(m.engine(), prompt, full);
    EXPECT_TRUE(a.used_kv_cache);
    EXPECT_FALSE(b.used_kv_cache);
    ASSERT_EQ(a.tokens, b.tokens) << "temperature " << s.temperature;
    ASSERT_EQ(a.logits.size(), 13u);
    for (size_t step = 0; step < a.logits.size(); ++step)
      for (size_t v = 0; v < a.logits[step].size(); ++v)
        ASSERT_NEAR(a.logits[step][v], b.logits[step][v], 1e-5) << "step " << step << " id " << v;
  }
}

TEST(Generate, GreedyIsDeterministicAndContinuesTheLearnedPattern) {
  const std::vector<int32_t> prompt = {2, 3, 4, 5};
  std::vector<int32_t> first;
  for (int run = 0; run < 2; ++run) {
    InferenceModel m = load_trained();  // a fresh load each time
    const Generated g = generate(m.engine(), prompt, {.max_new_tokens = 12, .sampling = {.temperature = 0}});
    if (run == 0) first = g.tokens;
    EXPECT_EQ(g.tokens, first);
  }
  std::vector<int32_t> pattern;
  for (int i = 0; i < 12; ++i) pattern.push_back((6 + i) % test::kPeriod);
  EXPECT_EQ(first, pattern);
}

TEST(Generate, TopKOneIsGreedyWhateverTheSeedAndTemperature) {
  InferenceModel m = load_trained();
  const std::vector<int32_t> prompt = {6};
  const Generated greedy = generate(m.engine(), prompt, {.max_new_tokens = 15, .sampling = {.temperature = 0}});
  for (uint64_t seed : {1u, 2u, 77u}) {
    const Generated k1 = generate(m.engine(), prompt,
                                  {.max_new_tokens = 15, .sampling = {.temperature = 3.0, .top_k = 1, .seed = seed}});
    EXPECT_EQ(k1.tokens, greedy.tokens) << "seed " << seed;
  }
}

TEST(Generate, TheSameSeedRepeatsAndAnotherDiffers) {
  InferenceModel m = load_trained();
  const std::vector<int32_t> prompt = {0, 1};
  auto run = [&](uint64_t seed) {
    return generate(m.engine(), prompt, {.max_new_tokens = 14, .sampling = {.temperature = 5.0, .seed = seed}}).tokens;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));  // a high temperature: 14 draws from nearly uniform over 32 ids
}

TEST(Generate, RefusesAPromptThatDoesNotFitOrLeavesTheVocabulary) {
  InferenceModel m = load_trained();
  auto message = [&](std::vector<int32_t> prompt, int64_t n) {
    try {
      generate(m.engine(), prompt, {.max_new_tokens = n});
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({1, 2, 3}, 14).find("beyond the model's block_size of 16; lower --max-new-tokens"),
            std::string::npos);
  EXPECT_NE(message({1, 32}, 1).find("prompt token 1 is 32, outside the model's vocabulary [0, 32)"), std::string::npos);
  EXPECT_NE(message({}, 1).find("empty"), std::string::npos);
  EXPECT_EQ(generate(m.engine(), std::vector<int32_t>{1, 2, 3}, {.max_new_tokens = 13}).tokens.size(), 13u);
}

TEST(Generate, TheCheckpointLoadsItsMasterWeightsWhateverStageAndRanksWroteIt) {
  InferenceModel m = load_trained();
  EXPECT_NE(m.weights_from().find("ZeRO-2, 2 ranks, fp32 master weights"), std::string::npos) << m.weights_from();
  const std::vector<float> master =
      safetensors::File::open(test::trained_checkpoint() / "model.safetensors").read_f32("transformer.wpe.weight");
  const auto params = m.engine().parameters();
  EXPECT_EQ(params[1].first, "transformer.wpe.weight");
  EXPECT_EQ(params[1].second, master);  // fp32 training: the weights file is the master weights, bit for bit
}

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

TEST(Generate, AModelWithoutAKvCacheFallsBackToTheFullForwardWithTheSameTokens) {
  // standin_gpt (the stand-in GPU's fixture) is gpt's math without forward_cached: the SDK's default
  // answers UNSUPPORTED, and generation runs forward() over the whole sequence instead.
  ModelSpec other = test::tiny_shape();
  other.type = "standin_gpt";
  const std::vector<int32_t> prompt = {1, 2};
  const GenerateOptions o{.max_new_tokens = 10, .sampling = {.temperature = 0.9, .seed = 8}};
  std::vector<int32_t> with_cache;
  {
    InferenceModel gpt = test::load_trained();
    const Generated g = generate(gpt.engine(), prompt, o);
    EXPECT_TRUE(g.used_kv_cache);
    with_cache = g.tokens;
  }
  InferenceModel m = InferenceModel::load(test::trained_checkpoint(), {.model = other, .module_path = {STANDIN_FIXTURE_DIR}});
  EXPECT_FALSE(m.engine().forward_cached(TokenBatch{{1}, {0}, 1, 1}, 0).has_value());
  const Generated g = generate(m.engine(), prompt, o);
  EXPECT_FALSE(g.used_kv_cache);
  EXPECT_EQ(g.tokens, with_cache);
}

}  // namespace
}  // namespace tandem
