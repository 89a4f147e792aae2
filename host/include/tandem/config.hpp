// DeepSpeed configs: loading, validation and "auto" resolution.
//
//   DeepSpeedConfig cfg = load_config_file("configs/zero2_config.json");  // throws ConfigError
//   for (const ConfigIssue& w : cfg.warnings()) std::cerr << w.to_string() << "\n";
//   ResolveInputs in;  in.hidden_size = 768;  in.micro_batch = 8;  in.world_size = 2;
//   ResolvedConfig run = resolve(cfg, in);  // every "auto" replaced, the batch triple checked
//
// Loading validates every key DeepSpeed defines against a table of its keys (type, default, range,
// deprecated aliases, whether "auto" is allowed): an unknown key inside zero_optimization (or its
// offload blocks) is an error, as DeepSpeed's pydantic model forbids extras; elsewhere it is a
// warning. All problems are reported together, each with file:line:column and JSON path.
// Resolution follows Accelerate's rules at prepare() and gives every other "auto" a documented
// rule; an "auto" that nothing resolves is an error naming the key and what would resolve it.
// docs/configs.md lists the rules.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tandem/config_batch.hpp"
#include "tandem/config_error.hpp"
#include "tandem/config_resolved.hpp"
#include "tandem/json.hpp"

namespace tandem {

// A validated DeepSpeed config, "auto" values still in it. Immutable; copyable.
class DeepSpeedConfig {
 public:
  // Validates `document`; throws ConfigError listing every problem.
  explicit DeepSpeedConfig(json::Document document);

  const std::string& source() const { return document_.source; }
  // The text as parsed.
  const json::Document& document() const { return document_; }
  // The normalized tree: deprecated spellings mapped to DeepSpeed's current keys ("bfloat16" ->
  // "bf16", cpu_offload -> offload_optimizer.device "cpu", prefetch_bucket_size ->
  // stage3_prefetch_bucket_size, a boolean zero_optimization -> {"stage": 1 or 0}, ...), every value
  // keeping the position of the text it came from. "auto" values are kept.
  const json::Value& tree() const { return tree_; }
  const std::vector<ConfigIssue>& warnings() const { return warnings_; }

  // A value of tree() by dotted path ("zero_optimization.offload_optimizer.device"); nullptr if absent.
  const json::Value* find(std::string_view dotted_path) const;
  // Every "auto" in tree(), in document order.
  std::vector<const json::Value*> autos() const;
  // The ZeRO stage (0 when zero_optimization is absent); nullopt while it is "auto".
  std::optional<int> zero_stage() const;
  // The "optimizer" / "scheduler" blocks of tree() (type string and params object, with positions);
  // nullptr when the config has none.
  const json::Value* optimizer() const { return tree_.find("optimizer"); }
  const json::Value* scheduler() const { return tree_.find("scheduler"); }

  // A copy with one value set (replaced, or added with any missing parent objects), validated again:
  // how code edits a plugin's config as Accelerate's users edit `plugin.deepspeed_config[...]`.
  //   teacher = teacher.with("train_micro_batch_size_per_gpu", *student.find("train_micro_batch_size_per_gpu"));
  // The path is dotted ("zero_optimization.offload_optimizer.device"); a part that exists and is not
  // an object is std::invalid_argument; a value the schema refuses is ConfigError, as at load. The
  // copy reads as the normalized tree (deprecated spellings already mapped) with the same source.
  DeepSpeedConfig with(std::string_view dotted_path, json::Value value) const;

 private:
  json::Document document_;
  json::Value tree_;
  std::vector<ConfigIssue> warnings_;
};

// Reads a config file (comments and trailing commas accepted). Throws ConfigError for an unreadable
// file, malformed JSON (with its line:column), a duplicate key, or an invalid config.
DeepSpeedConfig load_config_file(const std::filesystem::path& file);
// Parses config text; `source` names it in messages.
DeepSpeedConfig load_config_text(std::string_view text, std::string source = "<string>");
// As Accelerate and DeepSpeed accept a config argument: an existing file path, else JSON text, else
// urlsafe-base64-encoded JSON (source "<base64>"). Anything else is a ConfigError saying which
// forms were tried.
DeepSpeedConfig load_config(const std::string& path_or_text);

// Resolves every "auto" (see docs/configs.md for the rules), then derives and checks the batch
// triple for inputs.world_size and re-checks the rules that depend on resolved values. Throws
// ConfigError listing every "auto" that cannot be resolved (each with what would resolve it) and
// every other problem; std::invalid_argument for inputs out of range (world_size < 1, ...).
ResolvedConfig resolve(const DeepSpeedConfig& config, const ResolveInputs& inputs = {});

// One line per resolution and derivation, for `tandem config explain`:
//   "<source>:<line>:<col>: zero_optimization.reduce_bucket_size = 589824 (hidden_size^2 = ...)".
std::string describe_resolutions(const ResolvedConfig& resolved);

}  // namespace tandem
