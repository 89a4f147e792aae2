// tandem-gpt2-logits / tandem-model-logits (one source, two names): a model module's logits for given
// tokens and weights, as raw fp32, so that a script can compare them with another implementation's
// (tools/check/hf_gpt2_check.py compares the `gpt` module with transformers' GPT2LMHeadModel, and
// hf_llama_check.py the `llama` module with LlamaForCausalLM and Qwen2ForCausalLM).
//
//   tandem-gpt2-logits --weights model.safetensors --model '{"n_layer": 12, ...}' --tokens 1,2,3
//                      --out logits.f32 [--type gpt|llama|...] [--device cpu|cuda] [--precision fp32|bf16]
//
// --type names the model module (default gpt); --model holds that module's params.
// The weights may be a Hugging Face GPT-2 file (names with or without "transformer.", Conv1D layout):
// Engine::load_weights reads both. The engine runs forward-only under ZeRO-0 on one rank, on the CPU
// (fp32) or on a GPU (the CUDA model: true fp32 products, or bf16 with fp32 accumulation); the file
// holds fp32 either way (bf16 logits widened exactly).
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tandem/accelerator.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  std::string weights, model_json, tokens_text, out, device = "cpu", precision = "fp32", type = "gpt";
  po::options_description options("tandem-gpt2-logits");
  options.add_options()("help,h", "show this help")("weights", po::value(&weights)->required(), "safetensors file")(
      "model", po::value(&model_json)->required(), "the model module's params, as JSON")(
      "type", po::value(&type), "the model module: gpt (default), llama, ...")(
      "tokens", po::value(&tokens_text)->required(), "comma-separated token ids (one row)")(
      "out", po::value(&out)->required(), "where to write the [tokens, vocab] fp32 logits")(
      "device", po::value(&device), "cpu (default) or cuda")(
      "precision", po::value(&precision), "fp32 (default) or bf16 (the config's \"bf16\" block; GPU)");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, options), vm);
    if (vm.count("help")) {
      std::cout << options << "\n";
      return 0;
    }
    po::notify(vm);

    tandem::TokenBatch batch;
    std::stringstream list(tokens_text);
    for (std::string t; std::getline(list, t, ',');) {
      batch.inputs.push_back(static_cast<int32_t>(std::stol(t)));
      batch.targets.push_back(0);
    }
    batch.batch = 1;
    batch.seq = static_cast<int64_t>(batch.inputs.size());

    if (device != "cpu" && device != "cuda") throw std::invalid_argument("--device is cpu or cuda");
    if (precision != "fp32" && precision != "bf16") throw std::invalid_argument("--precision is fp32 or bf16");
    tandem::PluginSet plugins;
    const std::string config = std::string(R"({"train_micro_batch_size_per_gpu": 1, "zero_optimization": {"stage": 0})") +
                               (precision == "bf16" ? R"(, "bf16": {"enabled": true}})" : "}");
    plugins.add("check", tandem::DeepSpeedPlugin(tandem::load_config_text(config, "<tandem-gpt2-logits>")));
    tandem::AcceleratorOptions options;
    options.device = device == "cuda" ? tandem::RunDevice::cuda : tandem::RunDevice::cpu;
    tandem::Accelerator accelerator(std::move(plugins), options);
    tandem::PrepareInputs inputs;
    tandem::ModelSpec model;
    model.type = type;
    model.params = tandem::json::parse(model_json, "--model").root;
    inputs.model = model;
    inputs.micro_batch = 1;
    tandem::Prepared prepared = accelerator.prepare(inputs);
    tandem::Engine& engine = *prepared.engine();
    engine.load_weights(weights);
    const tandem::Logits logits = engine.forward({batch}, /*train=*/false);
    const std::vector<float> values = engine.host_logits(logits, 0);
    std::ofstream file(out, std::ios::binary);
    file.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
    if (!file) throw std::runtime_error("cannot write " + out);
    std::cout << logits.seq << " x " << logits.vocab << " logits written to " << out << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << std::filesystem::path(argv[0]).filename().string() << ": " << e.what() << "\n";
    return 2;
  }
}
