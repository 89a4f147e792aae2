// Consolidating an engine checkpoint into one fp32 model (checkpoint.hpp).
#include <algorithm>
#include <cstring>
#include <iostream>

#include "checkpoint/saved_engine.hpp"
#include "io/output_path.hpp"
#include "tandem/checkpoint.hpp"
#include "tandem/checkpoint_manifest.hpp"
#include "tandem/json.hpp"
#include "tandem/safetensors.hpp"
#include "train/checkpoint_dir.hpp"

namespace tandem {

namespace {

ConsolidateReport consolidate(const std::filesystem::path& dir, const std::filesystem::path& out) {
  const checkpoint::SavedEngine saved = checkpoint::SavedEngine::read(dir);
  ConsolidateReport report;
  report.stage = saved.stage;
  report.world_size = saved.world_size;
  std::vector<std::vector<float>> values(saved.params.size());
  if (saved.has_optimizer) {
    // The fp32 master weights, from the partitions each rank saved.
    const checkpoint::SavedShards shards(saved);
    std::vector<std::vector<float>> groups;
    for (size_t g = 0; g < saved.groups.size(); ++g) groups.push_back(shards.gather("master", g));
    for (size_t i = 0; i < saved.params.size(); ++i) {
      const float* first = groups[saved.params[i].group].data() + saved.params[i].offset;
      values[i].assign(first, first + saved.params[i].numel());
    }
    report.from_shards = true;
  } else {
    const safetensors::File weights = safetensors::File::open(dir / "model.safetensors");
    for (size_t i = 0; i < saved.params.size(); ++i) {
      weights.expect(saved.params[i].name, saved.params[i].shape);
      values[i] = weights.read_f32(saved.params[i].name);
    }
  }

  std::vector<safetensors::TensorData> tensors;
  for (size_t i = 0; i < saved.params.size(); ++i) {
    tensors.push_back(safetensors::f32_tensor(saved.params[i].name, saved.params[i].shape, values[i]));
    report.parameters += static_cast<int64_t>(values[i].size());
  }
  report.tensors = tensors.size();
  safetensors::write(out, tensors,
                     {{"format", "pt"},
                      {"producer", "tandem checkpoint consolidate"},
                      {"zero_stage", std::to_string(report.stage)},
                      {"world_size", std::to_string(report.world_size)}});
  return report;
}

// Whether `path` (which need not exist) names something under `dir`, after resolving both.
bool inside(const std::filesystem::path& path, const std::filesystem::path& dir) {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
  const std::filesystem::path d = std::filesystem::weakly_canonical(dir, ec);
  if (ec) return false;
  const auto [d_end, p_at] = std::mismatch(d.begin(), d.end(), p.begin(), p.end());
  return d_end == d.end();
}

}  // namespace

ConsolidateReport consolidate_checkpoint(const std::filesystem::path& dir, const std::filesystem::path& out,
                                         bool overwrite) {
  io::check_output_path(out, overwrite, "OUT", "--overwrite");
  std::filesystem::path checkpoint = dir;
  try {
    if (!std::filesystem::exists(dir / "engine.json") && std::filesystem::exists(dir / "latest"))
      checkpoint = CheckpointDir(dir).latest(std::cerr).value_or(dir);
    if (std::filesystem::exists(out) && inside(out, checkpoint))  // even with --overwrite: it is the checkpoint's
      throw std::invalid_argument("OUT " + out.string() + " is a file of the checkpoint " + checkpoint.string() +
                                  " itself; write the consolidated model somewhere else (nothing was written)");
    if (!std::filesystem::exists(checkpoint / "engine.json"))
      throw CheckpointError(dir.string() + ": not an engine checkpoint (no engine.json, and no `latest` pointer)");
    if (std::filesystem::exists(checkpoint / kCheckpointManifestFile)) verify_checkpoint(checkpoint);
    return consolidate(checkpoint, out);
  } catch (const safetensors::Error& e) {
    throw CheckpointError(e.what());
  } catch (const json::ParseError& e) {
    throw CheckpointError(e.what());
  }
}

}  // namespace tandem
