// What checkpoints hold, each verified (tandem/checkpoint_inspect.hpp).
#include "tandem/checkpoint_inspect.hpp"

#include <algorithm>
#include <stdexcept>

#include "checkpoint/saved_engine.hpp"
#include "tandem/checkpoint.hpp"
#include "tandem/checkpoint_manifest.hpp"
#include "train/checkpoint_dir.hpp"

namespace tandem {

namespace {

namespace fs = std::filesystem;

// The step-N directories in `dir`, oldest first.
std::vector<fs::path> steps_in(const fs::path& dir) {
  std::vector<std::pair<int64_t, fs::path>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (const std::optional<int64_t> s = checkpoint_step(e.path()); s && e.is_directory()) found.emplace_back(*s, e.path());
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  for (auto& [s, p] : found) out.push_back(std::move(p));
  return out;
}

json::Value integer(int64_t v) { return json::Value::integer(v); }

// Reads what one checkpoint holds into `out`, verifying as it goes; the first problem is thrown.
void describe(const fs::path& dir, json::Value& out) {
  if (const std::optional<std::string> damage = find_checkpoint_damage(dir)) throw CheckpointError(*damage);
  int64_t bytes = 0;
  json::Value files = json::Value::array();
  for (const CheckpointManifestEntry& f : describe_checkpoint_files(dir).files) {
    json::Value file = json::Value::object();
    file.set("name", json::Value::string(f.name));
    file.set("size", integer(static_cast<int64_t>(f.size)));
    bytes += static_cast<int64_t>(f.size);
    files.push_back(std::move(file));
  }
  out.set("bytes", integer(bytes));
  out.set("files", std::move(files));

  const checkpoint::SavedEngine saved = checkpoint::SavedEngine::read(dir);
  out.set("engine", json::Value::string(saved.engine));
  out.set("version", integer(saved.version));
  out.set("stage", integer(saved.stage));
  out.set("world_size", integer(saved.world_size));
  out.set("global_steps", integer(saved.global_steps));
  out.set("taken_steps", integer(saved.taken_steps));
  out.set("skipped_steps", integer(saved.skipped_steps));
  out.set("micro_steps", integer(saved.micro_steps));
  int64_t parameters = 0;
  for (const checkpoint::SavedParam& p : saved.params) parameters += static_cast<int64_t>(p.numel());
  out.set("tensors", integer(static_cast<int64_t>(saved.params.size())));
  out.set("parameters", integer(parameters));
  json::Value groups = json::Value::array();
  for (const checkpoint::SavedGroup& g : saved.groups) {
    json::Value group = json::Value::object();
    group.set("numel", integer(static_cast<int64_t>(g.numel)));
    group.set("padded", integer(static_cast<int64_t>(g.padded)));
    groups.push_back(std::move(group));
  }
  out.set("groups", std::move(groups));
  out.set("scheduler", json::Value::boolean(saved.doc.root.find("scheduler_state") != nullptr));

  // The weights as the layout names them.
  try {
    const safetensors::File weights = safetensors::File::open(dir / "model.safetensors");
    for (const checkpoint::SavedParam& p : saved.params) weights.expect(p.name, p.shape);
  } catch (const safetensors::Error& e) {
    throw CheckpointError(e.what());
  }
  // Every state gathered over the ranks, as a load under another topology reads it.
  json::Value names = json::Value::array();
  if (saved.has_optimizer) {
    const checkpoint::SavedShards shards(saved);
    std::vector<std::string> states{"master"};
    for (const std::string& n : saved.optimizer_state_names()) {
      states.push_back(n);
      names.push_back(json::Value::string(n));
    }
    for (const std::string& s : states)
      for (size_t g = 0; g < saved.groups.size(); ++g) shards.gather(s, g);
  }
  out.set("optimizer_state", std::move(names));

  json::Value data = json::Value::null();
  if (fs::exists(dir / "trainer.json")) {
    json::Document trainer;
    try {
      trainer = json::parse_file(dir / "trainer.json");
    } catch (const json::ParseError& e) {
      throw CheckpointError(e.what());
    }
    const json::Value* loaders = trainer.root.find("loaders");
    if (loaders == nullptr || !loaders->is_array() || loaders->items().empty())
      throw CheckpointError((dir / "trainer.json").string() + ": no \"loaders\" (the data position)");
    data = json::Value::object();
    for (const char* key : {"epoch", "step", "world_size", "micro_batch", "block_size", "seed", "train_tokens"})
      if (const json::Value* v = loaders->items().front().find(key)) data.set(key, *v);
  }
  out.set("data", std::move(data));
}

json::Value inspect_one(const fs::path& dir, const std::string& model) {
  json::Value c = json::Value::object();
  c.set("path", json::Value::string(dir.string()));
  if (!model.empty()) c.set("model", json::Value::string(model));
  c.set("whole", json::Value::boolean(true));
  c.set("damage", json::Value::null());
  try {
    describe(dir, c);
  } catch (const std::exception& e) {  // CheckpointError, and anything unreadable
    c.set("whole", json::Value::boolean(false));
    c.set("damage", json::Value::string(e.what()));
  }
  return c;
}

}  // namespace

json::Value inspect_checkpoints(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw std::invalid_argument(dir.string() + ": " + (fs::exists(dir, ec) ? "not a directory" : "no such directory") +
                                "; name a checkpoint (step-N) or a checkpoint_dir");
  json::Value list = json::Value::array();
  if (fs::exists(dir / "engine.json") || fs::exists(dir / kCheckpointManifestFile)) {
    list.push_back(inspect_one(dir, ""));
  } else if (const std::vector<fs::path> steps = steps_in(dir); !steps.empty()) {
    for (const fs::path& s : steps) list.push_back(inspect_one(s, ""));
  } else {
    // A run of several models: one checkpoint_dir per model beneath.
    std::vector<fs::path> models;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_directory() && !steps_in(e.path()).empty()) models.push_back(e.path());
    std::sort(models.begin(), models.end());
    for (const fs::path& m : models)
      for (const fs::path& s : steps_in(m)) list.push_back(inspect_one(s, m.filename().string()));
  }
  if (list.items().empty())
    throw std::invalid_argument(dir.string() + ": no checkpoint here (no engine.json, no step-N directories, no "
                                "model directories holding them)");
  bool whole = true;
  for (const json::Value& c : list.items()) whole = whole && c.find("whole")->as_bool();
  json::Value out = json::Value::object();
  out.set("path", json::Value::string(dir.string()));
  out.set("whole", json::Value::boolean(whole));
  out.set("checkpoints", std::move(list));
  return out;
}

}  // namespace tandem
