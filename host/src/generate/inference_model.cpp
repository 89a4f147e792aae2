// Loading a model for inference (tandem/inference.hpp).
#include <iostream>

#include "tandem/checkpoint.hpp"
#include "tandem/inference.hpp"
#include "tandem/json.hpp"
#include "tandem/safetensors.hpp"
#include "tandem/train.hpp"

namespace tandem {

namespace {

bool is_checkpoint(const std::filesystem::path& p) {
  return std::filesystem::is_directory(p) &&
         (std::filesystem::exists(p / "engine.json") || std::filesystem::exists(p / "latest"));
}

// The run file trainer.json names, if it can still be read, as the model it trained.
std::optional<std::pair<ModelSpec, std::string>> spec_from_trainer(const std::filesystem::path& checkpoint) {
  const std::filesystem::path trainer = checkpoint / "trainer.json";
  if (!std::filesystem::exists(trainer)) return std::nullopt;
  const json::Document doc = json::parse_file(trainer);
  const json::Value* run = doc.root.find("run_file");
  if (run == nullptr || !run->is_string() || !std::filesystem::is_regular_file(run->as_string())) return std::nullopt;
  try {
    return std::pair{load_run_file(run->as_string()).model, "the run file " + run->as_string()};
  } catch (const std::exception&) {  // a multi-model run file, or one changed since: say so below
    return std::nullopt;
  }
}

std::string shape_help(const std::filesystem::path& source) {
  return source.string() +
         ": cannot tell the model's shape (n_head is not in the tensors): pass --model with the gpt module's "
         "params, e.g. --model '{\"n_layer\": 4, \"n_head\": 4, \"n_embd\": 128, \"vocab_size\": 256, "
         "\"block_size\": 128}', or put a Hugging Face config.json beside the weights";
}

}  // namespace

ModelSpec gpt_spec_from_hf_config(const std::filesystem::path& config_json) {
  const json::Document doc = json::parse_file(config_json);
  if (!doc.root.is_object()) throw std::invalid_argument(config_json.string() + ": not a JSON object");
  ModelSpec spec;
  spec.type = "gpt";
  spec.source = config_json.string();
  const std::pair<const char*, const char*> keys[] = {
      {"n_layer", "n_layer"}, {"n_head", "n_head"}, {"n_embd", "n_embd"}, {"vocab_size", "vocab_size"},
      {"n_positions", "block_size"}};
  for (const auto& [hf, ours] : keys) {
    const json::Value* v = doc.root.find(hf);
    if (v == nullptr || !v->is_int())
      throw std::invalid_argument(config_json.string() + ": " + hf +
                                  (v == nullptr ? " is missing" : " is not an integer") +
                                  " (a Hugging Face GPT2Config needs n_layer, n_head, n_embd, vocab_size, n_positions)");
    spec.params.set(ours, json::Value::integer(v->as_int()));
  }
  return spec;
}

InferenceModel InferenceModel::load(const std::filesystem::path& source, const InferenceOptions& options) {
  if (!std::filesystem::exists(source))
    throw std::invalid_argument(source.string() + ": no such file or directory (a checkpoint, a checkpoint_dir, "
                                "a .safetensors file, or a directory with model.safetensors and config.json)");
  InferenceModel m;
  std::optional<CheckpointWeights> weights;
  std::filesystem::path file;  // a safetensors file to load instead
  std::optional<std::pair<ModelSpec, std::string>> found;
  if (is_checkpoint(source)) {
    weights = read_checkpoint_weights(source);
    m.checkpoint_ = weights->checkpoint;
    m.weights_from_ = weights->checkpoint.string() + " (ZeRO-" + std::to_string(weights->report.stage) + ", " +
                      std::to_string(weights->report.world_size) + " rank" + (weights->report.world_size == 1 ? "" : "s") +
                      (weights->report.from_shards ? ", fp32 master weights" : ", weights only") + ")";
    if (!options.model) found = spec_from_trainer(weights->checkpoint);
  } else {
    file = std::filesystem::is_directory(source) ? source / "model.safetensors" : source;
    if (!std::filesystem::is_regular_file(file))
      throw std::invalid_argument(source.string() + ": neither a checkpoint (engine.json or latest) nor a directory "
                                  "with model.safetensors, nor a safetensors file");
    m.weights_from_ = file.string();
    const std::filesystem::path config = file.parent_path() / "config.json";
    if (!options.model && std::filesystem::exists(config))
      found = std::pair{gpt_spec_from_hf_config(config), config.string()};
  }
  if (options.model) found = std::pair{*options.model, std::string("--model")};
  if (!found) throw std::invalid_argument(shape_help(source));
  m.spec_ = found->first;
  m.spec_from_ = found->second;

  State::reset();
  PluginSet plugins;
  plugins.add("inference", DeepSpeedPlugin(load_config_text(
                               R"({"train_micro_batch_size_per_gpu": 1, "zero_optimization": {"stage": 0}})",
                               "<inference>")));
  AcceleratorOptions accel;
  accel.module_path = options.module_path;
  m.accelerator_ = std::make_unique<Accelerator>(std::move(plugins), accel);
  PrepareInputs inputs;
  inputs.model = m.spec_;
  inputs.micro_batch = 1;
  m.prepared_ = std::make_unique<Prepared>(m.accelerator_->prepare(inputs));
  Engine& engine = m.engine();
  if (weights) {
    for (size_t i = 0; i < weights->names.size() && i < static_cast<size_t>(engine.parameters().size()); ++i)
      if (weights->shapes[i] != engine.parameter_shape(i))
        throw std::invalid_argument(weights->checkpoint.string() + ": " + weights->names[i] + " is " +
                                    safetensors::shape_string(weights->shapes[i]) + ", the model of " + m.spec_from_ +
                                    " has " + safetensors::shape_string(engine.parameter_shape(i)) +
                                    " (another model's checkpoint? pass --model with its shape)");
    std::vector<std::pair<std::string, std::vector<float>>> values;
    for (size_t i = 0; i < weights->names.size(); ++i) values.emplace_back(weights->names[i], std::move(weights->values[i]));
    try {
      engine.set_parameters(values);
    } catch (const std::exception& e) {
      throw std::invalid_argument(weights->checkpoint.string() + " does not fit the model of " + m.spec_from_ + ": " +
                                  e.what());
    }
  } else {
    engine.load_weights(file);
  }
  return m;
}

}  // namespace tandem
