// GPT-2's parameter table (Hugging Face names, shapes, layers, counts) and initialisation.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "gpt_params.hpp"
#include "tandem/compute/bf16.hpp"
#include "tandem/compute/param_access.hpp"

namespace tandem::gpt {
namespace {

using compute::Shape;

TEST(GptParams, Gpt2SmallHasHuggingFacesNamesShapesAndCount) {
  const GptConfig cfg;  // 12 layers, 12 heads, 768 wide, 50257 tokens, 1024 positions
  const std::vector<compute::ParamInfo> p = gpt_param_infos(cfg);
  ASSERT_EQ(p.size(), 2u + 12u * 12u + 2u);
  int64_t total = 0;
  for (const auto& info : p) total += info.shape.numel();
  EXPECT_EQ(total, 124439808);  // GPT2LMHeadModel's parameter count (head tied to wte)
  EXPECT_EQ(p[0].name, "transformer.wte.weight");
  EXPECT_EQ(p[0].shape, (Shape{50257, 768}));
  EXPECT_EQ(p[1].name, "transformer.wpe.weight");
  EXPECT_EQ(p[1].shape, (Shape{1024, 768}));
  const char* block[] = {"ln_1.weight",    "ln_1.bias",      "attn.c_attn.weight", "attn.c_attn.bias",
                         "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight",    "ln_2.bias",
                         "mlp.c_fc.weight", "mlp.c_fc.bias",  "mlp.c_proj.weight", "mlp.c_proj.bias"};
  const Shape shapes[] = {{768}, {768}, {768, 2304}, {2304}, {768, 768}, {768}, {768}, {768}, {768, 3072}, {3072},
                          {3072, 768}, {768}};
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < 12; ++j) {
      const auto& info = p[static_cast<size_t>(2 + 12 * i + j)];
      EXPECT_EQ(info.name, "transformer.h." + std::to_string(i) + "." + block[j]);
      EXPECT_EQ(info.shape, shapes[j]) << info.name;
      EXPECT_EQ(info.layer, i + 1) << info.name;
      EXPECT_EQ(info.no_weight_decay, info.shape.rank() == 1) << info.name;
    }
  EXPECT_EQ(p[146].name, "transformer.ln_f.weight");
  EXPECT_EQ(p[147].name, "transformer.ln_f.bias");
  EXPECT_EQ(p[147].layer, 13);
  EXPECT_EQ(p[0].layer, 0);
  EXPECT_EQ(p[1].layer, 0);
  EXPECT_EQ(cfg.layer_count(), 14);
}

TEST(GptParams, ValidationNamesTheField) {
  auto message = [](GptConfig c) {
    try {
      c.validate();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  GptConfig c;
  c.n_head = 5;
  EXPECT_EQ(message(c), "gpt: n_embd (768) must be divisible by n_head (5)");
  c = GptConfig{};
  c.n_layer = 0;
  EXPECT_EQ(message(c), "gpt: n_layer must be > 0, got 0");
  c = GptConfig{};
  c.vocab_size = -3;
  EXPECT_EQ(message(c), "gpt: vocab_size must be > 0, got -3");
  c = GptConfig{};
  c.block_size = 0;
  EXPECT_EQ(message(c), "gpt: block_size must be > 0, got 0");
  EXPECT_EQ(message(GptConfig{}), "");
}

double stddev(const double* v, int64_t n) {
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    s += v[i];
    s2 += v[i] * v[i];
  }
  return std::sqrt(s2 / n - (s / n) * (s / n));
}

TEST(GptParams, InitialisesAsGpt2) {
  const GptConfig cfg{4, 4, 128, 256, 128};
  const std::vector<GptParam> params = gpt_parameters(cfg);
  compute::ResidentParams store(gpt_param_infos(cfg), compute::DType::f64);
  for (size_t i = 0; i < params.size(); ++i) gpt_init_param(params, i, 1234, store.param(i));
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& info = params[i].info;
    const double* v = store.param(i).as<double>();
    const int64_t n = info.shape.numel();
    const bool is_ln_weight = info.name.find("ln_") != std::string::npos && info.name.ends_with(".weight");
    if (is_ln_weight) {
      for (int64_t e = 0; e < n; ++e) ASSERT_EQ(v[e], 1.0) << info.name;
    } else if (info.name.ends_with(".bias")) {
      for (int64_t e = 0; e < n; ++e) ASSERT_EQ(v[e], 0.0) << info.name;
    } else {
      const bool residual_proj = info.name.ends_with("c_proj.weight");
      const double want = residual_proj ? 0.02 / std::sqrt(2.0 * 4) : 0.02;
      EXPECT_NEAR(stddev(v, n), want, want * 5 / std::sqrt(double(n))) << info.name;  // 5 standard errors (approx.)
    }
  }
  // Different parameters draw from different streams.
  EXPECT_NE(store.param(2).as<double>()[0], store.param(4).as<double>()[0]);
}

TEST(GptParams, ShardInitEqualsTheSliceOfTheFullTensorInEveryDtype) {
  const GptConfig cfg{2, 2, 16, 50, 8};
  const std::vector<GptParam> params = gpt_parameters(cfg);
  const size_t idx = 4;  // transformer.h.0.attn.c_attn.weight [16, 48]
  ASSERT_EQ(params[idx].info.name, "transformer.h.0.attn.c_attn.weight");
  compute::Tensor full(params[idx].info.shape, compute::DType::f32);
  gpt_init_param(params, idx, 7, full);
  compute::Tensor shard(Shape{100}, compute::DType::f32);
  gpt_init_param(params, idx, 7, shard, 300);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(shard.as<float>()[i], full.as<float>()[300 + i]);
  compute::Tensor half(Shape{100}, compute::DType::bf16);
  gpt_init_param(params, idx, 7, half, 300);
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(half.as<compute::bf16>()[i].bits, compute::float_to_bf16_bits(full.as<float>()[300 + i]));
  compute::Tensor other_seed(params[idx].info.shape, compute::DType::f32);
  gpt_init_param(params, idx, 8, other_seed);
  EXPECT_NE(other_seed.as<float>()[0], full.as<float>()[0]);
  EXPECT_THROW(gpt_init_param(params, idx, 7, shard, 700), std::invalid_argument);  // past the end
}

}  // namespace
}  // namespace tandem::gpt
