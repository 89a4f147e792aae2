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

CheckpointWeights gather_weights(const std::filesystem::path& dir) {
  const checkpoint::SavedEngine saved = checkpoint::SavedEngine::read(dir);
  CheckpointWeights w;
  w.checkpoint = dir;
  w.report.stage = saved.stage;
  w.report.world_size = saved.world_size;
  w.values.resize(saved.params.size());
  if (saved.has_optimizer) {
    // The fp32 master weights, from the partitions each rank saved.
    const checkpoint::SavedShards shards(saved);
    std::vector<std::vector<float>> groups;
    for (size_t g = 0; g < saved.groups.size(); ++g) groups.push_back(shards.gather("master", g));
    for (size_t i = 0; i < saved.params.size(); ++i) {
      const float* first = groups[saved.params[i].group].data() + saved.params[i].offset;
      w.values[i].assign(first, first + saved.params[i].numel());
    }
    w.report.from_shards = true;
  } else {
    const safetensors::File weights = safetensors::File::open(dir / "model.safetensors");
    for (size_t i = 0; i < saved.params.size(); ++i) {
      weights.expect(saved.params[i].name, saved.params[i].shape);
      w.values[i] = weights.read_f32(saved.params[i].name);
    }
  }
  for (size_t i = 0; i < saved.params.size(); ++i) {
    w.names.push_back(saved.params[i].name);
    w.shapes.push_back(saved.params[i].shape);
    w.report.parameters += static_cast<int64_t>(w.values[i].size());
  }
  w.report.tensors = w.names.size();
  return w;
}

ConsolidateReport write_consolidated(const CheckpointWeights& w, const std::filesystem::path& out) {
  std::vector<safetensors::TensorData> tensors;
  for (size_t i = 0; i < w.names.size(); ++i) tensors.push_back(safetensors::f32_tensor(w.names[i], w.shapes[i], w.values[i]));
  safetensors::write(out, tensors,
                     {{"format", "pt"},
                      {"producer", "tandem checkpoint consolidate"},
                      {"zero_stage", std::to_string(w.report.stage)},
                      {"world_size", std::to_string(w.report.world_size)}});
  return w.report;
}

// The checkpoint `dir` names: itself, or the newest of a checkpoint_dir.
std::filesystem::path checkpoint_of(const std::filesystem::path& dir) {
  if (!std::filesystem::exists(dir / "engine.json") && std::filesystem::exists(dir / "latest"))
    return CheckpointDir(dir).latest(std::cerr).value_or(dir);
  return dir;
}

// Reads a checkpoint's weights, every parse error as a CheckpointError.
template <class Fn>
auto reading(Fn&& fn) {
  try {
    return fn();
  } catch (const safetensors::Error& e) {
    throw CheckpointError(e.what());
  } catch (const json::ParseError& e) {
    throw CheckpointError(e.what());
  }
}

CheckpointWeights read_verified(const std::filesystem::path& dir, const std::filesystem::path& checkpoint) {
  if (!std::filesystem::exists(checkpoint / "engine.json"))
    throw CheckpointError(dir.string() + ": not an engine checkpoint (no engine.json, and no `latest` pointer)");
  if (std::filesystem::exists(checkpoint / kCheckpointManifestFile)) verify_checkpoint(checkpoint);
  return gather_weights(checkpoint);
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

CheckpointWeights read_checkpoint_weights(const std::filesystem::path& dir) {
  return reading([&] { return read_verified(dir, checkpoint_of(dir)); });
}

ConsolidateReport consolidate_checkpoint(const std::filesystem::path& dir, const std::filesystem::path& out,
                                         bool overwrite) {
  io::check_output_path(out, overwrite, "OUT", "--overwrite");
  return reading([&] {
    const std::filesystem::path checkpoint = checkpoint_of(dir);
    if (std::filesystem::exists(out) && inside(out, checkpoint))  // even with --overwrite: it is the checkpoint's
      throw std::invalid_argument("OUT " + out.string() + " is a file of the checkpoint " + checkpoint.string() +
                                  " itself; write the consolidated model somewhere else (nothing was written)");
    return write_consolidated(read_verified(dir, checkpoint), out);
  });
}

}  // namespace tandem
