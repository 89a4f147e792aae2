// The options `tandem generate`, `tandem eval` and `tandem checkpoint export` share: how to load the
// model (tandem/inference.hpp).
#include "cli/cli.hpp"
#include "tandem/checkpoint.hpp"
#include "tandem/json.hpp"

namespace tandem::cli {

void add_inference_options(po::options_description& options, InferenceFlags& flags) {
  options.add_options()("model", po::value(&flags.model_json),
                        "the model's params as JSON (the gpt module's: n_layer, n_head, n_embd, vocab_size, "
                        "block_size), when neither a config.json nor the checkpoint's run file says")(
      "model-type", po::value(&flags.model_type)->default_value("gpt"), "the model module --model is for");
  add_module_path_option(options, flags.module_path);
}

InferenceModel load_inference_model(const std::string& source, const InferenceFlags& flags) {
  InferenceOptions o;
  o.module_path = to_paths(flags.module_path);
  if (!flags.model_json.empty()) {
    ModelSpec spec;
    spec.type = flags.model_type;
    spec.params = json::parse(flags.model_json, "--model").root;
    spec.source = "--model";
    if (!spec.params.is_object()) throw UsageError("--model must be a JSON object of the model's params");
    o.model = std::move(spec);
  }
  try {
    return InferenceModel::load(source, o);
  } catch (const CheckpointError& e) {  // a damaged or foreign checkpoint is bad input here
    throw UsageError(e.what());
  }
}

}  // namespace tandem::cli
