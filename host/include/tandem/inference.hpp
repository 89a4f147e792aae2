// A trained model, loaded for inference (`tandem generate`, `tandem eval`, `checkpoint export`):
// from a tandem checkpoint of any ZeRO stage and world size (its fp32 master weights, gathered from
// the rank shards as `checkpoint consolidate` does), a safetensors file (tandem's or Hugging Face
// GPT-2's), or a directory holding model.safetensors and config.json (what export writes, and what
// the hub serves). The engine is forward-only, one rank, ZeRO-0, on the CPU.
//
// The model's shape comes from, first found: the caller's spec (`--model '{"n_layer": ...}'`); a
// Hugging Face config.json (beside the safetensors file, or in the directory); the run file the
// checkpoint's trainer.json names (its "model" block), when that file can still be read. Nothing else
// can tell n_head from the tensors, so without any of them the load is refused, saying what to pass.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tandem/accelerator.hpp"

namespace tandem {

struct InferenceOptions {
  std::optional<ModelSpec> model;                 // overrides whatever the source says
  std::vector<std::filesystem::path> module_path;  // scanned after the default module directories
};

class InferenceModel {
 public:
  // Throws std::invalid_argument (bad input: naming the path and what to do) or CheckpointError.
  static InferenceModel load(const std::filesystem::path& source, const InferenceOptions& options = {});

  Engine& engine() { return *prepared_->engine(); }
  const ModelSpec& spec() const { return spec_; }
  // Where the weights came from, in words ("runs/x/step-00000040 (ZeRO-2, 2 ranks)"), and the model's
  // shape's ("config.json", "the run file ...", "--model").
  const std::string& weights_from() const { return weights_from_; }
  const std::string& spec_from() const { return spec_from_; }
  // The checkpoint directory, when the weights came from one (tokenizer files may lie beside its run).
  const std::optional<std::filesystem::path>& checkpoint() const { return checkpoint_; }

 private:
  std::unique_ptr<Accelerator> accelerator_;
  std::unique_ptr<Prepared> prepared_;
  ModelSpec spec_;
  std::string weights_from_, spec_from_;
  std::optional<std::filesystem::path> checkpoint_;
};

// A Hugging Face GPT2Config (config.json) as the gpt module's params: n_layer, n_head, n_embd,
// vocab_size, n_positions -> block_size. Throws std::invalid_argument naming the file and the key.
ModelSpec gpt_spec_from_hf_config(const std::filesystem::path& config_json);

}  // namespace tandem
