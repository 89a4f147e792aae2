// Reading an engine checkpoint without the engine (saved_engine.hpp).
#include "checkpoint/saved_engine.hpp"

#include <cstring>

#include "tandem/checkpoint.hpp"

namespace tandem::checkpoint {

namespace {

// engine.json's fields, each error at its line:column and JSON path.
class Fields {
 public:
  Fields(const std::string& file, const json::Document& doc) : file_(file), doc_(doc) {
    if (!doc_.root.is_object()) fail(doc_.root, "not a JSON object");
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
  const json::Document& doc_;
};

size_t metadata_count(const safetensors::File& file, const std::string& key) {
  const std::string* v = file.metadata_value(key);
  if (v == nullptr) throw CheckpointError(file.source() + ": no \"" + key + "\" in the metadata (the shard's layout)");
  try {
    size_t used = 0;
    const unsigned long long n = std::stoull(*v, &used);
    if (used != v->size()) throw std::invalid_argument(*v);
    return static_cast<size_t>(n);
  } catch (const std::exception&) {
    throw CheckpointError(file.source() + ": metadata \"" + key + "\" is \"" + *v + "\", not a count");
  }
}

}  // namespace

size_t SavedParam::numel() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

SavedEngine SavedEngine::read(const std::filesystem::path& dir) {
  SavedEngine s;
  s.dir = dir;
  const std::string file = (dir / "engine.json").string();
  try {
    s.doc = json::parse_file(dir / "engine.json");
  } catch (const json::ParseError& e) {
    throw CheckpointError(e.what());
  }
  const Fields f(file, s.doc);
  const json::Value& root = f.root();
  const json::Value& format = f.field(root, "format");
  if (!format.is_string() || format.as_string() != "tandem-engine") f.fail(format, "not a tandem engine checkpoint");
  s.version = f.integer(root, "version", 1);
  if (const json::Value* name = root.find("engine"); name != nullptr && name->is_string()) s.engine = name->as_string();
  s.stage = f.integer(root, "stage", 0);
  if (s.stage > 3) f.fail(f.field(root, "stage"), "ZeRO stages are 0 to 3");
  s.world_size = f.integer(root, "world_size", 1);
  const json::Value& has_optimizer = f.field(root, "has_optimizer");
  if (!has_optimizer.is_bool()) f.fail(has_optimizer, "expected true or false");
  s.has_optimizer = has_optimizer.as_bool();
  s.global_steps = f.integer(root, "global_steps", 0);
  s.skipped_steps = f.integer(root, "skipped_steps", 0);
  s.taken_steps = f.integer(root, "taken_steps", 0);
  s.micro_steps = f.integer(root, "micro_steps", 0);

  const json::Value& layout = f.field(root, "layout");
  for (const json::Value& g : f.field(layout, "groups").items()) {
    SavedGroup group{static_cast<size_t>(f.integer(g, "numel", 0)), static_cast<size_t>(f.integer(g, "padded", 0))};
    if (group.padded < group.numel || group.padded % static_cast<size_t>(s.world_size) != 0)
      f.fail(g, "padded must be numel rounded up to a multiple of world_size " + std::to_string(s.world_size));
    s.groups.push_back(group);
  }
  for (const json::Value& p : f.field(layout, "params").items()) {
    SavedParam sp;
    const json::Value& name = f.field(p, "name");
    if (!name.is_string()) f.fail(name, "expected a string");
    sp.name = name.as_string();
    for (const json::Value& d : f.field(p, "shape").items()) {
      if (!d.is_int() || d.as_int() < 0) f.fail(d, "expected a dimension");
      sp.shape.push_back(d.as_int());
    }
    sp.group = static_cast<size_t>(f.integer(p, "group", 0));
    sp.offset = static_cast<size_t>(f.integer(p, "offset", 0));
    if (sp.group >= s.groups.size() || sp.offset + sp.numel() > s.groups[sp.group].numel)
      f.fail(p, "parameter " + sp.name + " lies outside its group's buffer");
    s.params.push_back(std::move(sp));
  }
  return s;
}

std::filesystem::path SavedEngine::rank_file(int64_t rank) const {
  return dir / ("rank" + std::to_string(rank) + ".safetensors");
}

std::vector<std::string> SavedEngine::optimizer_state_names() const {
  std::vector<std::string> names;
  if (!has_optimizer) return names;
  try {
    const safetensors::File file = safetensors::File::open(rank_file(0));
    for (const safetensors::TensorInfo& t : file.tensors())
      if (t.name.rfind("optimizer.", 0) == 0) names.push_back(t.name.substr(10));
  } catch (const safetensors::Error& e) {
    throw CheckpointError(e.what());
  }
  return names;
}

SavedShards::SavedShards(const SavedEngine& saved) : saved_(saved) {
  try {
    for (int64_t r = 0; r < saved.world_size; ++r) {
      files_.push_back(safetensors::File::open(saved.rank_file(r)));
      const safetensors::File& file = files_.back();
      std::vector<Part> parts;
      size_t state_offset = 0;
      for (size_t g = 0; g < saved.groups.size(); ++g) {
        const std::string name = "master." + std::to_string(g);
        Part part;
        part.offset = metadata_count(file, name + ".offset");
        const size_t padded = metadata_count(file, name + ".padded");
        part.length = static_cast<size_t>(file.get(name).numel());
        part.state_offset = state_offset;
        state_offset += part.length;
        if (padded != saved.groups[g].padded)
          throw CheckpointError(file.source() + ": " + name + " belongs to a buffer of " + std::to_string(padded) +
                                " elements; engine.json's layout pads group " + std::to_string(g) + " to " +
                                std::to_string(saved.groups[g].padded));
        if (part.offset > padded || part.length > padded - part.offset)
          throw CheckpointError(file.source() + ": " + name + " (" + std::to_string(part.length) +
                                " elements at offset " + std::to_string(part.offset) + ") runs past its buffer of " +
                                std::to_string(padded));
        parts.push_back(part);
      }
      parts_.push_back(std::move(parts));
    }
  } catch (const safetensors::Error& e) {
    throw CheckpointError(e.what());
  }
}

std::vector<float> SavedShards::gather(const std::string& state, size_t g) const {
  const SavedGroup& group = saved_.groups.at(g);
  std::vector<float> buffer(group.padded, 0.0f);
  std::vector<int32_t> owner(group.padded, -1);  // which rank's part set each element
  const bool master = state == "master";
  const std::string tensor = master ? "master." + std::to_string(g) : "optimizer." + state;
  try {
    for (size_t r = 0; r < files_.size(); ++r) {
      const safetensors::File& file = files_[r];
      const Part& part = parts_[r][g];
      std::vector<float> values = file.read_f32(tensor);
      if (!master) {  // this group's section of the state
        const size_t total = parts_[r].empty() ? 0 : parts_[r].back().state_offset + parts_[r].back().length;
        if (values.size() != total)
          throw CheckpointError(file.source() + ": " + tensor + " has " + std::to_string(values.size()) +
                                " elements; the rank's master shards have " + std::to_string(total));
        values = std::vector<float>(values.begin() + static_cast<std::ptrdiff_t>(part.state_offset),
                                    values.begin() + static_cast<std::ptrdiff_t>(part.state_offset + part.length));
      }
      for (size_t i = 0; i < values.size(); ++i) {
        const size_t at = part.offset + i;
        if (owner[at] >= 0 && std::memcmp(&buffer[at], &values[i], sizeof(float)) != 0)
          throw CheckpointError(file.source() + ": " + tensor + " element " + std::to_string(at) + " of group " +
                                std::to_string(g) + " is " + std::to_string(values[i]) + " on rank " +
                                std::to_string(r) + " and " + std::to_string(buffer[at]) + " on rank " +
                                std::to_string(owner[at]) + "; ranks that hold the same element must agree");
        buffer[at] = values[i];
        owner[at] = static_cast<int32_t>(r);
      }
    }
  } catch (const safetensors::Error& e) {
    throw CheckpointError(e.what());
  }
  for (size_t i = 0; i < group.numel; ++i)
    if (owner[i] < 0)
      throw CheckpointError(saved_.rank_file(0).string() + ": element " + std::to_string(i) + " of " + tensor +
                            " (group " + std::to_string(g) + ") is in no rank's shard; the checkpoint is missing a "
                            "partition");
  buffer.resize(group.numel);  // the padding is no one's state
  return buffer;
}

}  // namespace tandem::checkpoint
