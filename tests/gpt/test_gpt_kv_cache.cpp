// GptKvCache (SDK 1.4's forward_cached on the CPU): a prompt and then one token at a time through the
// cache gives, at every position, forward()'s logits over the whole sequence so far (within 1e-5 in
// float, 1e-12 in double); several rows at once; a cache restarted with past == 0; bad calls refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "gpt_kv_cache.hpp"
#include "gpt_model.hpp"
#include "gpt_test_util.hpp"

namespace tandem::gpt {
namespace {

using compute::DType;
using compute::ResidentParams;
using compute::TensorView;

// Per position of `tokens` (B rows of n), the largest |cached - full| over the vocabulary, where
// cached runs the first `prompt` positions in one call and then one position per call.
template <class T>
double worst_difference(const GptConfig& cfg, int64_t B, int64_t n, int64_t prompt, DType dtype) {
  ResidentParams store = test::make_store(cfg, dtype, 7);
  GptModel<T> full(cfg);
  GptKvCache<T> cache(cfg);
  const std::vector<int32_t> tokens = test::random_tokens(B * n, cfg.vocab_size, 3);
  const int64_t V = cfg.vocab_size;
  double worst = 0;
  int64_t past = 0;
  while (past < n) {
    const int64_t step = past == 0 ? prompt : 1;
    std::vector<int32_t> fresh;
    for (int64_t b = 0; b < B; ++b)
      fresh.insert(fresh.end(), tokens.begin() + b * n + past, tokens.begin() + b * n + past + step);
    const TensorView got = cache.forward(store, fresh.data(), B, step, past);
    const std::vector<T> cached(got.as<T>(), got.as<T>() + got.numel());
    std::vector<int32_t> prefix;  // every row's tokens 0 .. past + step - 1
    for (int64_t b = 0; b < B; ++b)
      prefix.insert(prefix.end(), tokens.begin() + b * n, tokens.begin() + b * n + past + step);
    const TensorView want = full.forward(store, prefix.data(), B, past + step, false);
    const T* w = want.as<T>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < step; ++t)
        for (int64_t v = 0; v < V; ++v)
          worst = std::max(worst, std::abs(static_cast<double>(cached[(b * step + t) * V + v]) -
                                           static_cast<double>(w[(b * (past + step) + past + t) * V + v])));
    past += step;
    EXPECT_EQ(cache.cached_positions(), past);
  }
  return worst;
}

TEST(GptKvCache, OneTokenAtATimeEqualsTheFullForwardAtEveryPosition) {
  const GptConfig cfg{3, 4, 32, 37, 16};  // n_layer, n_head, n_embd, vocab_size, block_size
  EXPECT_LT(worst_difference<float>(cfg, 1, 16, 5, DType::f32), 1e-5);
  EXPECT_LT(worst_difference<float>(cfg, 3, 12, 1, DType::f32), 1e-5);  // rows at once; a prompt of one
  EXPECT_LT(worst_difference<double>(cfg, 2, 16, 4, DType::f64), 1e-12);
}

TEST(GptKvCache, PastZeroStartsAgainAndAWrongPastIsRefused) {
  const GptConfig cfg{2, 2, 16, 20, 8};
  ResidentParams store = test::make_store(cfg, DType::f32, 4);
  GptKvCache<float> cache(cfg);
  GptModel<float> full(cfg);
  const std::vector<int32_t> a = test::random_tokens(6, cfg.vocab_size, 1);
  const std::vector<int32_t> b = test::random_tokens(3, cfg.vocab_size, 2);
  cache.forward(store, a.data(), 1, 6, 0);
  // past 3 while 6 are cached; 2 rows while 1 is cached; past beyond block_size: refused by name.
  EXPECT_THROW(cache.forward(store, b.data(), 1, 1, 3), std::invalid_argument);
  EXPECT_THROW(cache.forward(store, b.data(), 2, 1, 6), std::invalid_argument);
  try {
    cache.forward(store, b.data(), 1, 3, 6);
    FAIL() << "9 positions of a block of 8 were taken";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("block_size (8)"), std::string::npos) << e.what();
  }
  // A new sequence after the refusals: as if the cache had never held `a`.
  const TensorView got = cache.forward(store, b.data(), 1, 3, 0);
  const std::vector<float> cached(got.as<float>(), got.as<float>() + got.numel());
  const TensorView want = full.forward(store, b.data(), 1, 3, false);
  for (int64_t i = 0; i < want.numel(); ++i) EXPECT_NEAR(cached[i], want.as<float>()[i], 1e-5) << i;
  std::vector<int32_t> bad = {static_cast<int32_t>(cfg.vocab_size)};
  EXPECT_THROW(cache.forward(store, bad.data(), 1, 1, 3), std::invalid_argument);
}

}  // namespace
}  // namespace tandem::gpt
