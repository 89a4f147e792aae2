// Consolidating an engine checkpoint into one fp32 model (checkpoint.hpp).
#include <algorithm>
#include <cstring>
#include <iostream>

#include "io/output_path.hpp"
#include "tandem/checkpoint.hpp"
#include "tandem/checkpoint_manifest.hpp"
#include "tandem/json.hpp"
#include "tandem/safetensors.hpp"
#include "train/checkpoint_dir.hpp"

namespace tandem {

namespace {

struct LayoutParam {
  std::string name;
  std::vector<int64_t> shape;
  size_t group = 0;
  size_t offset = 0;
  size_t numel() const {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    return n;
  }
};

struct LayoutGroup {
  size_t numel = 0;
  size_t padded = 0;
};

class Manifest {
 public:
  explicit Manifest(const std::filesystem::path& file) : file_(file.string()), doc_(json::parse_file(file)) {
    if (!doc_.root.is_object()) fail(doc_.root, "not a JSON object");
    const json::Value& format = field(doc_.root, "format");
    if (!format.is_string() || format.as_string() != "tandem-engine") fail(format, "not a tandem engine checkpoint");
  }

  [[noreturn]] void fail(const json::Value& at, const std::string& why) const {
    throw CheckpointError(json::where(file_, at.position()) + ": " + (at.path().empty() ? "" : at.path() + ": ") + why);
  }
  const json::Value& field(const json::Value& object, const char* key) const {
    const json::Value* v = object.find(key);
    if (v == nullptr) fail(object, std::string("missing \"") + key + "\"");
    return *v;
  }
  int64_t integer(const json::Value& object, const char* key, int64_t min) const {
    const json::Value& v = field(object, key);
    if (!v.is_int() || v.as_int() < min) fail(v, "expected an integer >= " + std::to_string(min));
    return v.as_int();
  }
  const json::Value& root() const { return doc_.root; }

 private:
  std::string file_;
  json::Document doc_;
};

std::vector<float> rebuild_group(const std::filesystem::path& dir, size_t g, const LayoutGroup& group, int64_t world) {
  std::vector<float> buffer(group.padded, 0.0f);
  std::vector<int32_t> owner(group.padded, -1);  // which rank's shard set each element
  const std::string name = "master." + std::to_string(g);
  for (int64_t r = 0; r < world; ++r) {
    const std::filesystem::path file = dir / ("rank" + std::to_string(r) + ".safetensors");
    const safetensors::File shards = safetensors::File::open(file);
    auto meta = [&](const std::string& key) -> size_t {
      const std::string* v = shards.metadata_value(key);
      if (v == nullptr) throw CheckpointError(file.string() + ": no \"" + key + "\" in the metadata (the shard's layout)");
      try {
        size_t used = 0;
        const unsigned long long n = std::stoull(*v, &used);
        if (used != v->size()) throw std::invalid_argument(*v);
        return static_cast<size_t>(n);
      } catch (const std::exception&) {
        throw CheckpointError(file.string() + ": metadata \"" + key + "\" is \"" + *v + "\", not a count");
      }
    };
    const size_t offset = meta(name + ".offset");
    const size_t padded = meta(name + ".padded");
    if (padded != group.padded)
      throw CheckpointError(file.string() + ": " + name + " belongs to a buffer of " + std::to_string(padded) +
                            " elements; engine.json's layout pads group " + std::to_string(g) + " to " +
                            std::to_string(group.padded));
    const std::vector<float> values = shards.read_f32(name);
    if (offset > padded || values.size() > padded - offset)
      throw CheckpointError(file.string() + ": " + name + " (" + std::to_string(values.size()) +
                            " elements at offset " + std::to_string(offset) + ") runs past its buffer of " +
                            std::to_string(padded));
    for (size_t i = 0; i < values.size(); ++i) {
      const size_t at = offset + i;
      if (owner[at] >= 0 && std::memcmp(&buffer[at], &values[i], sizeof(float)) != 0)
        throw CheckpointError(file.string() + ": " + name + " element " + std::to_string(at) + " is " +
                              std::to_string(values[i]) + " on rank " + std::to_string(r) + " and " +
                              std::to_string(buffer[at]) + " on rank " + std::to_string(owner[at]) +
                              "; ranks that hold the same element must agree");
      buffer[at] = values[i];
      owner[at] = static_cast<int32_t>(r);
    }
  }
  for (size_t i = 0; i < group.numel; ++i)
    if (owner[i] < 0)
      throw CheckpointError((dir / "rank0.safetensors").string() + ": element " + std::to_string(i) + " of " + name +
                            " is in no rank's shard; the checkpoint is missing a partition");
  return buffer;
}

ConsolidateReport consolidate(const std::filesystem::path& dir, const std::filesystem::path& out) {
  const Manifest manifest(dir / "engine.json");
  const json::Value& root = manifest.root();
  ConsolidateReport report;
  report.stage = manifest.integer(root, "stage", 0);
  report.world_size = manifest.integer(root, "world_size", 1);
  const json::Value& has_optimizer = manifest.field(root, "has_optimizer");
  if (!has_optimizer.is_bool()) manifest.fail(has_optimizer, "expected true or false");

  const json::Value& layout = manifest.field(root, "layout");
  std::vector<LayoutGroup> groups;
  for (const json::Value& g : manifest.field(layout, "groups").items())
    groups.push_back(LayoutGroup{static_cast<size_t>(manifest.integer(g, "numel", 0)),
                                 static_cast<size_t>(manifest.integer(g, "padded", 0))});
  std::vector<LayoutParam> params;
  for (const json::Value& p : manifest.field(layout, "params").items()) {
    LayoutParam lp;
    const json::Value& name = manifest.field(p, "name");
    if (!name.is_string()) manifest.fail(name, "expected a string");
    lp.name = name.as_string();
    for (const json::Value& d : manifest.field(p, "shape").items()) {
      if (!d.is_int() || d.as_int() < 0) manifest.fail(d, "expected a dimension");
      lp.shape.push_back(d.as_int());
    }
    lp.group = static_cast<size_t>(manifest.integer(p, "group", 0));
    lp.offset = static_cast<size_t>(manifest.integer(p, "offset", 0));
    if (lp.group >= groups.size() || lp.offset + lp.numel() > groups[lp.group].numel)
      manifest.fail(p, "parameter " + lp.name + " lies outside its group's buffer");
    params.push_back(std::move(lp));
  }

  std::vector<std::vector<float>> values(params.size());
  if (has_optimizer.as_bool()) {
    // The fp32 master weights, from the partitions each rank saved.
    std::vector<std::vector<float>> buffers;
    for (size_t g = 0; g < groups.size(); ++g) buffers.push_back(rebuild_group(dir, g, groups[g], report.world_size));
    for (size_t i = 0; i < params.size(); ++i) {
      const float* first = buffers[params[i].group].data() + params[i].offset;
      values[i].assign(first, first + params[i].numel());
    }
    report.from_shards = true;
  } else {
    const safetensors::File weights = safetensors::File::open(dir / "model.safetensors");
    for (size_t i = 0; i < params.size(); ++i) {
      weights.expect(params[i].name, params[i].shape);
      values[i] = weights.read_f32(params[i].name);
    }
  }

  std::vector<safetensors::TensorData> tensors;
  for (size_t i = 0; i < params.size(); ++i) {
    tensors.push_back(safetensors::f32_tensor(params[i].name, params[i].shape, values[i]));
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
