// The llama parameter table: Hugging Face's names, [out, in] shapes and order for each variant
// (Llama with and without attention_bias, Qwen2's q/k/v-only biases, tied and untied heads), the
// initialisation, and the config's refusals naming the field.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "llama_params.hpp"
#include "llama_test_util.hpp"

namespace tandem::llama {
namespace {

std::vector<std::string> names_of(const LlamaConfig& c) {
  std::vector<std::string> out;
  for (const compute::ParamInfo& p : llama_param_infos(c)) out.push_back(p.name);
  return out;
}

TEST(LlamaParams, HuggingFaceNamesShapesAndLayersForLlama) {
  LlamaConfig c = test::tiny_llama();
  c.num_hidden_layers = 1;
  const std::vector<compute::ParamInfo> infos = llama_param_infos(c);
  const std::vector<std::string> want = {"model.embed_tokens.weight",
                                         "model.layers.0.self_attn.q_proj.weight",
                                         "model.layers.0.self_attn.k_proj.weight",
                                         "model.layers.0.self_attn.v_proj.weight",
                                         "model.layers.0.self_attn.o_proj.weight",
                                         "model.layers.0.mlp.gate_proj.weight",
                                         "model.layers.0.mlp.up_proj.weight",
                                         "model.layers.0.mlp.down_proj.weight",
                                         "model.layers.0.input_layernorm.weight",
                                         "model.layers.0.post_attention_layernorm.weight",
                                         "model.norm.weight",
                                         "lm_head.weight"};
  EXPECT_EQ(names_of(c), want);
  // nn.Linear [out, in]: q [H*hd, C] = [8, 8], k/v [KV*hd, C] = [4, 8], o [C, H*hd], gate/up [I, C], down [C, I].
  EXPECT_EQ(infos[1].shape, (compute::Shape{8, 8}));
  EXPECT_EQ(infos[2].shape, (compute::Shape{4, 8}));
  EXPECT_EQ(infos[3].shape, (compute::Shape{4, 8}));
  EXPECT_EQ(infos[5].shape, (compute::Shape{12, 8}));
  EXPECT_EQ(infos[7].shape, (compute::Shape{8, 12}));
  EXPECT_EQ(infos[11].shape, (compute::Shape{11, 8}));
  EXPECT_EQ(infos[0].layer, 0);
  EXPECT_EQ(infos[1].layer, 1);
  EXPECT_EQ(infos[10].layer, 2);
  EXPECT_EQ(infos[11].layer, 2);
  EXPECT_TRUE(infos[8].no_weight_decay);
  EXPECT_FALSE(infos[1].no_weight_decay);
}

TEST(LlamaParams, BiasesFollowTheFamily) {
  LlamaConfig llama = test::tiny_llama_tied_bias();
  llama.num_hidden_layers = 1;
  const std::vector<std::string> l = names_of(llama);
  EXPECT_EQ(std::count(l.begin(), l.end(), "model.layers.0.self_attn.o_proj.bias"), 1);  // Llama: o too
  EXPECT_EQ(std::count(l.begin(), l.end(), "model.layers.0.self_attn.q_proj.bias"), 1);
  EXPECT_EQ(std::count(l.begin(), l.end(), "lm_head.weight"), 0);  // tied
  LlamaConfig qwen = test::tiny_qwen2();
  qwen.num_hidden_layers = 1;
  const std::vector<std::string> q = names_of(qwen);
  for (const char* n : {"q_proj.bias", "k_proj.bias", "v_proj.bias"})
    EXPECT_EQ(std::count(q.begin(), q.end(), std::string("model.layers.0.self_attn.") + n), 1) << n;
  EXPECT_EQ(std::count(q.begin(), q.end(), "model.layers.0.self_attn.o_proj.bias"), 0);  // Qwen2: no o bias
  EXPECT_EQ(std::count(q.begin(), q.end(), "lm_head.weight"), 1);
}

TEST(LlamaParams, InitIsHuggingFacesAndShardable) {
  LlamaConfig c = test::tiny_qwen2();
  const std::vector<LlamaParam> params = llama_parameters(c);
  for (size_t i = 0; i < params.size(); ++i) {
    const compute::Shape& s = params[i].info.shape;
    compute::Tensor full(s, compute::DType::f64);
    llama_init_param(params, i, 7, full.view());
    const double* v = full.view().as<double>();
    const std::string& name = params[i].info.name;
    const bool norm = name.find("norm") != std::string::npos, bias = name.find(".bias") != std::string::npos;
    double sq = 0;
    for (int64_t e = 0; e < s.numel(); ++e) {
      if (norm) {
        ASSERT_EQ(v[e], 1.0) << name;
      }
      if (bias) {
        ASSERT_EQ(v[e], 0.0) << name;
      }
      sq += v[e] * v[e];
    }
    if (!norm && !bias) {
      EXPECT_NEAR(std::sqrt(sq / double(s.numel())), 0.02, 0.012) << name;
    }
    // The second half initialised on its own equals the full tensor's second half.
    const int64_t half = s.numel() / 2;
    compute::Tensor part(compute::Shape{s.numel() - half}, compute::DType::f64);
    llama_init_param(params, i, 7, part.view(), half);
    for (int64_t e = half; e < s.numel(); ++e) ASSERT_EQ(part.view().as<double>()[e - half], v[e]) << name;
  }
}

std::string refusal(const std::function<void(LlamaConfig&)>& edit) {
  LlamaConfig c = test::tiny_llama();
  edit(c);
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(LlamaConfig, RefusesWhatItCannotComputeNamingTheField) {
  EXPECT_NE(refusal([](LlamaConfig& c) { c.num_key_value_heads = 3; }).find("num_key_value_heads (3) must divide "
                                                                          "num_attention_heads (4)"),
            std::string::npos);
  EXPECT_NE(refusal([](LlamaConfig& c) { c.rope_scaling = "llama3"; }).find("rope_scaling type \"llama3\" is not implemented"),
            std::string::npos);
  EXPECT_NE(refusal([](LlamaConfig& c) { c.hidden_size = 10; }).find("hidden_size (10) must be divisible by "
                                                                   "num_attention_heads (4)"),
            std::string::npos);
  EXPECT_NE(refusal([](LlamaConfig& c) {
              c.model_type = "qwen2";
              c.attention_bias = true;
            }).find("attention_bias is not a Qwen2 setting"),
            std::string::npos);
  EXPECT_NE(refusal([](LlamaConfig& c) { c.model_type = "mistral"; }).find("model_type \"mistral\""), std::string::npos);
  EXPECT_NE(refusal([](LlamaConfig& c) { c.head_dim = 3; }).find("must be even"), std::string::npos);
  EXPECT_EQ(refusal([](LlamaConfig& c) { c.head_dim = 6; }), "");  // head_dim apart from hidden / heads is fine
}

}  // namespace
}  // namespace tandem::llama
