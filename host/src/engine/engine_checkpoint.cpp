// Engine::save and Engine::load: an engine's state as files in one directory.
//
//   model.safetensors   the full fp32 weights under Hugging Face's names (loadable on its own)
//   rank<R>.safetensors rank R's fp32 master shard of each optimizer group ("master.<g>") and its
//                       optimizer state ("optimizer.<name>"), with the layout in the metadata
//   engine.json         stage, world size, step counters, the scheduler's state and the flat layout
//                       of the master shards (each parameter's group and offset)
//   manifest.json       every other file's size and CRC-32C (tandem/checkpoint_manifest.hpp), last
// Restoring all of it continues a run exactly: the fp32 master weights and the optimizer's moments
// are the bits that were saved. load() refuses a directory whose manifest does not match its files.
#include <deque>
#include <fstream>
#include <sstream>

#include "checkpoint/saved_engine.hpp"
#include "engine/engine_state_views.hpp"
#include "io/atomic_file.hpp"
#include "tandem/checkpoint_manifest.hpp"

#include "engine/engine_rank.hpp"
#include "engine/rank_pool.hpp"
#include "tandem/call.hpp"
#include "tandem/flat_layout.hpp"
#include "tandem/safetensors.hpp"

namespace tandem {

namespace {

using engine_state::host_values;
using engine_state::optimizer_buffers;
using engine_state::read_into_view;
using engine_state::master_shard;
using engine_state::MasterShard;
using engine_state::view_numel;

constexpr const char* kFormat = "tandem-engine";
constexpr int64_t kFormatVersion = 1;

std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    out += digits[static_cast<unsigned>(b) >> 4];
    out += digits[static_cast<unsigned>(b) & 15];
  }
  return out;
}

std::vector<std::byte> from_hex(const std::string& text, const std::string& where) {
  auto nibble = [&](char c) -> unsigned {
    if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
    throw std::runtime_error(where + ": scheduler_state is not lowercase hexadecimal");
  };
  if (text.size() % 2 != 0) throw std::runtime_error(where + ": scheduler_state has an odd length");
  std::vector<std::byte> out;
  for (size_t i = 0; i < text.size(); i += 2) out.push_back(static_cast<std::byte>(nibble(text[i]) << 4 | nibble(text[i + 1])));
  return out;
}

std::filesystem::path rank_file(const std::filesystem::path& dir, int32_t r) {
  return dir / ("rank" + std::to_string(r) + ".safetensors");
}

}  // namespace

void Engine::save(const std::filesystem::path& dir) const {
  // Weights under their Hugging Face names.
  const auto weights = parameters();
  std::vector<safetensors::TensorData> tensors;
  for (size_t i = 0; i < weights.size(); ++i)
    tensors.push_back(safetensors::f32_tensor(weights[i].first, parameter_shape(i), weights[i].second));
  safetensors::write(dir / "model.safetensors", tensors, {{"format", "pt"}, {"producer", "tandem"}});

  // Each rank's master shards and optimizer state.
  if (has_optimizer_) {
    on_ranks([&](int32_t r) {
      Rank& rank = *ranks_[static_cast<size_t>(r)];
      std::vector<safetensors::TensorData> shards;
      std::deque<std::vector<float>> copies;  // GPU state, on the host while it is written
      safetensors::Metadata meta{{"rank", std::to_string(r)}, {"world_size", std::to_string(ranks_.size())}};
      for (uint32_t g = 0; g < group_defaults_.size(); ++g) {
        const MasterShard master = master_shard(*rank.stage, *rank.stage_vt, g);
        shards.push_back(safetensors::f32_tensor("master." + std::to_string(g), {static_cast<int64_t>(master.numel)},
                                                 host_values(master.view, master.numel, gpu_.get(), copies)));
        meta.emplace_back("master." + std::to_string(g) + ".offset", std::to_string(master.offset));
        meta.emplace_back("master." + std::to_string(g) + ".padded", std::to_string(master.padded));
      }
      for (const auto& [name, view] : optimizer_buffers(*rank.optimizer, *rank.optimizer_vt)) {
        const size_t n = view_numel(view);
        shards.push_back(
            safetensors::f32_tensor("optimizer." + name, {static_cast<int64_t>(n)}, host_values(view, n, gpu_.get(), copies)));
      }
      safetensors::write(rank_file(dir, r), shards, meta);
    });
  }

  json::Value manifest = json::Value::object();
  manifest.set("format", json::Value::string(kFormat));
  manifest.set("version", json::Value::integer(kFormatVersion));
  manifest.set("engine", json::Value::string(name_));
  manifest.set("stage", json::Value::integer(config_.zero.stage));
  manifest.set("world_size", json::Value::integer(static_cast<int64_t>(ranks_.size())));
  manifest.set("parameters", json::Value::integer(static_cast<int64_t>(params_.size())));
  manifest.set("has_optimizer", json::Value::boolean(has_optimizer_));
  manifest.set("global_steps", json::Value::integer(global_steps_));
  manifest.set("skipped_steps", json::Value::integer(skipped_steps_));
  manifest.set("taken_steps", json::Value::integer(taken_steps_));
  manifest.set("micro_steps", json::Value::integer(micro_steps_));
  // The flat layout the master shards follow (tandem/flat_layout.hpp, with the two groups build()
  // gives the stage), so that `tandem checkpoint consolidate` can rebuild the model from the shards
  // without the model module: each parameter's group and offset in its group's padded buffer.
  const sdk::FlatLayout flat(params_.data(), static_cast<uint32_t>(params_.size()), param_groups_.data(), 2,
                             static_cast<int32_t>(ranks_.size()));
  json::Value layout = json::Value::object();
  json::Value groups = json::Value::array();
  for (const sdk::FlatGroup& g : flat.groups()) {
    json::Value group = json::Value::object();
    group.set("numel", json::Value::integer(static_cast<int64_t>(g.numel)));
    group.set("padded", json::Value::integer(static_cast<int64_t>(g.padded)));
    groups.push_back(std::move(group));
  }
  layout.set("groups", std::move(groups));
  json::Value params = json::Value::array();
  for (const sdk::FlatParam& fp : flat.params()) {
    json::Value param = json::Value::object();
    param.set("name", json::Value::string(params_[fp.index].name));
    json::Value shape = json::Value::array();
    for (int64_t d : parameter_shape(fp.index)) shape.push_back(json::Value::integer(d));
    param.set("shape", std::move(shape));
    param.set("group", json::Value::integer(fp.group));
    param.set("offset", json::Value::integer(static_cast<int64_t>(fp.offset)));
    params.push_back(std::move(param));
  }
  layout.set("params", std::move(params));
  manifest.set("layout", std::move(layout));
  if (scheduler_ != nullptr) manifest.set("scheduler_state", json::Value::string(to_hex(scheduler_->save_state())));
  // fp16's loss scaler (tandem/loss_scaler.hpp): the scale is a power of two times the initial one,
  // exact in a JSON double.
  const LossScaler::State& scaler = scaler_.state();
  json::Value scaler_state = json::Value::object();
  scaler_state.set("scale", json::Value::number(scaler.scale));
  scaler_state.set("iteration", json::Value::integer(scaler.iteration));
  scaler_state.set("last_overflow_iteration", json::Value::integer(scaler.last_overflow_iteration));
  scaler_state.set("hysteresis", json::Value::integer(scaler.hysteresis));
  manifest.set("loss_scaler", std::move(scaler_state));
  const std::string text = json::to_string(manifest, true) + "\n";
  io::write_atomically(dir / "engine.json", [&](io::FileSink& sink) { sink.write(text.data(), text.size()); });
  write_checkpoint_manifest(dir);  // last: it vouches for the files above
}

void Engine::load_weights(const std::filesystem::path& file) {
  const safetensors::File weights = safetensors::File::open(file);
  std::vector<std::pair<std::string, std::vector<float>>> values;
  for (size_t i = 0; i < params_.size(); ++i) {
    weights.expect(params_[i].name, parameter_shape(i));
    values.emplace_back(params_[i].name, weights.read_f32(params_[i].name));
  }
  set_parameters(values);
}

void Engine::load(const std::filesystem::path& dir, bool with_optimizer) {
  // A checkpoint with a manifest is checked against it before anything is read (one without is from
  // a tandem older than manifests, or assembled by hand: loaded as it is).
  if (std::filesystem::exists(dir / kCheckpointManifestFile)) verify_checkpoint(dir);
  const std::string manifest_path = (dir / "engine.json").string();
  const checkpoint::SavedEngine saved = checkpoint::SavedEngine::read(dir);
  if (saved.version != kFormatVersion)
    throw std::runtime_error(manifest_path + ": a tandem engine checkpoint of version " + std::to_string(saved.version) +
                             "; this tandem reads version " + std::to_string(kFormatVersion));

  // Weights first: they are all an inference engine needs.
  load_weights(dir / "model.safetensors");
  if (!with_optimizer || !has_optimizer_) return;

  if (!saved.has_optimizer)
    throw std::runtime_error(manifest_path + ": the checkpoint has no optimizer state; load it without");
  // The same layout reads each rank's own file; another stage or world size gathers every state
  // across the saved ranks and cuts it by this engine's layout (engine_reshard.cpp).
  if (saved.stage == config_.zero.stage && saved.world_size == world_size())
    load_own_shards(dir);
  else
    load_resharded(saved);
  global_steps_ = saved.global_steps;
  skipped_steps_ = saved.skipped_steps;
  taken_steps_ = saved.taken_steps;
  micro_steps_ = saved.micro_steps;
  const json::Value& root = saved.doc.root;
  // Checkpoints from before mixed precision have no scaler state: fp32 runs, whose scaler never changes.
  if (const json::Value* scaler = root.find("loss_scaler")) {
    auto number = [&](const char* key) -> const json::Value& {
      const json::Value* v = scaler->find(key);
      if (v == nullptr || !v->is_number())
        throw std::runtime_error(manifest_path + ": loss_scaler." + key + " is missing or not a number");
      return *v;
    };
    scaler_.restore(LossScaler::State{number("scale").as_double(), number("iteration").as_int(),
                                      number("last_overflow_iteration").as_int(), number("hysteresis").as_int()});
  }
  if (scheduler_ != nullptr) {
    const json::Value* state = root.find("scheduler_state");
    if (state == nullptr || !state->is_string())
      throw std::runtime_error(manifest_path + ": no scheduler_state for this engine's scheduler");
    scheduler_->load_state(from_hex(state->as_string(), manifest_path));
  }
}

void Engine::load_own_shards(const std::filesystem::path& dir) {
  on_ranks([&](int32_t r) {
    Rank& rank = *ranks_[static_cast<size_t>(r)];
    const safetensors::File file = safetensors::File::open(rank_file(dir, r));
    // Shards of equal sizes would load into the wrong rank without a word: each records its rank.
    const std::string* saved_rank = file.metadata_value("rank");
    if (saved_rank != nullptr && *saved_rank != std::to_string(r))
      throw std::runtime_error(rank_file(dir, r).string() + ": holds rank " + *saved_rank + "'s shard, not rank " +
                               std::to_string(r) + "'s (were the rank files renamed or swapped?)");
    for (uint32_t g = 0; g < group_defaults_.size(); ++g) {
      const MasterShard master = master_shard(*rank.stage, *rank.stage_vt, g);
      file.expect("master." + std::to_string(g), {static_cast<int64_t>(master.numel)});
      read_into_view(file, "master." + std::to_string(g), master.view, master.numel, gpu_.get());
    }
    for (const auto& [name, view] : optimizer_buffers(*rank.optimizer, *rank.optimizer_vt)) {
      const size_t n = view_numel(view);
      file.expect("optimizer." + name, {static_cast<int64_t>(n)});
      read_into_view(file, "optimizer." + name, view, n, gpu_.get());
    }
  });
}

}  // namespace tandem
