#include "gpt_params.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "tandem/compute/bf16.hpp"
#include "tandem/compute/rng.hpp"

namespace tandem::gpt {

using compute::ParamInfo;
using compute::Shape;

std::vector<GptParam> gpt_parameters(const GptConfig& cfg) {
  cfg.validate();
  const int64_t C = cfg.n_embd;
  constexpr double kStd = 0.02;  // GPT-2's initializer_range
  const double proj_std = kStd / std::sqrt(2.0 * static_cast<double>(cfg.n_layer));
  std::vector<GptParam> out;
  auto add = [&](std::string name, Shape shape, int layer, Init init, double std) {
    const bool no_decay = init != Init::normal || shape.rank() == 1;
    out.push_back({ParamInfo{std::move(name), shape, layer, no_decay}, init, std});
  };
  add("transformer.wte.weight", {cfg.vocab_size, C}, 0, Init::normal, kStd);
  add("transformer.wpe.weight", {cfg.block_size, C}, 0, Init::normal, kStd);
  for (int64_t i = 0; i < cfg.n_layer; ++i) {
    const std::string p = "transformer.h." + std::to_string(i) + ".";
    const int layer = cfg.block_layer(i);
    add(p + "ln_1.weight", {C}, layer, Init::ones, 0);
    add(p + "ln_1.bias", {C}, layer, Init::zeros, 0);
    add(p + "attn.c_attn.weight", {C, 3 * C}, layer, Init::normal, kStd);
    add(p + "attn.c_attn.bias", {3 * C}, layer, Init::zeros, 0);
    add(p + "attn.c_proj.weight", {C, C}, layer, Init::normal, proj_std);
    add(p + "attn.c_proj.bias", {C}, layer, Init::zeros, 0);
    add(p + "ln_2.weight", {C}, layer, Init::ones, 0);
    add(p + "ln_2.bias", {C}, layer, Init::zeros, 0);
    add(p + "mlp.c_fc.weight", {C, 4 * C}, layer, Init::normal, kStd);
    add(p + "mlp.c_fc.bias", {4 * C}, layer, Init::zeros, 0);
    add(p + "mlp.c_proj.weight", {4 * C, C}, layer, Init::normal, proj_std);
    add(p + "mlp.c_proj.bias", {C}, layer, Init::zeros, 0);
  }
  add("transformer.ln_f.weight", {C}, cfg.final_layer(), Init::ones, 0);
  add("transformer.ln_f.bias", {C}, cfg.final_layer(), Init::zeros, 0);
  return out;
}

std::vector<ParamInfo> gpt_param_infos(const GptConfig& cfg) {
  std::vector<ParamInfo> infos;
  for (GptParam& p : gpt_parameters(cfg)) infos.push_back(std::move(p.info));
  return infos;
}

void gpt_init_param(const std::vector<GptParam>& params, size_t index, uint64_t seed, const compute::TensorView& out,
                    int64_t first) {
  if (index >= params.size())
    throw std::invalid_argument("gpt init: parameter index " + std::to_string(index) + " out of range (" +
                                std::to_string(params.size()) + " parameters)");
  const GptParam& p = params[index];
  const int64_t n = out.numel();
  if (first < 0 || first + n > p.info.shape.numel())
    throw std::invalid_argument("gpt init: " + p.info.name + ": elements [" + std::to_string(first) + ", " +
                                std::to_string(first + n) + ") outside its " +
                                std::to_string(p.info.shape.numel()) + " values");
  auto value = [&](int64_t i) -> double {
    switch (p.init) {
      case Init::zeros: return 0.0;
      case Init::ones: return 1.0;
      case Init::normal: return p.std * compute::normal(seed, index, static_cast<uint64_t>(first + i));
    }
    return 0.0;
  };
  switch (out.dtype) {
    case compute::DType::f32: {
      float* d = out.as<float>(p.info.name);
      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<float>(value(i));
      return;
    }
    case compute::DType::f64: {
      double* d = out.as<double>(p.info.name);
      for (int64_t i = 0; i < n; ++i) d[i] = value(i);
      return;
    }
    case compute::DType::bf16: {
      compute::bf16* d = out.as<compute::bf16>(p.info.name);
      for (int64_t i = 0; i < n; ++i) d[i] = compute::to_bf16(static_cast<float>(value(i)));
      return;
    }
    default:
      throw std::invalid_argument("gpt init: " + p.info.name + ": cannot initialise dtype " +
                                  std::string(compute::dtype_name(out.dtype)));
  }
}

}  // namespace tandem::gpt
