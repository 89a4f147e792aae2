// Engine::load of a checkpoint written under another ZeRO stage or world size (issue 21).
//
// Every stage lays an optimizer group out the same way (tandem/flat_layout.hpp): one flat buffer of
// the group's parameters in model order, padded with zeros to a multiple of the world size. Only the
// padding and which part each rank keeps depend on the topology; the real elements [0, numel) of the
// master weights and of each optimizer state (exp_avg, exp_avg_sq, or whatever the optimizer names)
// do not. So re-sharding is: gather each state's real elements from the saved ranks in rank order
// (checkpoint/saved_engine.hpp), then give each rank of this engine the part its stage reports through
// master_shard (its offset and length in the buffer), padding as zeros (as a fresh stage has it, and
// the optimizer never steps it). The step counters, the scheduler and the loss scaler do not depend on
// the topology and load as they are (Engine::load). The values are copied, never recomputed: the
// gathered states of the two engines are equal bit for bit.
#include <algorithm>

#include "checkpoint/saved_engine.hpp"
#include "engine/engine_rank.hpp"
#include "engine/engine_state_views.hpp"
#include "tandem/call.hpp"
#include "tandem/flat_layout.hpp"

namespace tandem {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

}  // namespace

void Engine::load_resharded(const checkpoint::SavedEngine& saved) {
  const std::string engine_json = (saved.dir / "engine.json").string();
  // The same model: the same groups of the same sizes, each parameter at the same place in them.
  // (load_weights has already named a tensor that is missing or of another shape.)
  const sdk::FlatLayout flat(params_.data(), static_cast<uint32_t>(params_.size()), param_groups_.data(),
                             static_cast<uint32_t>(group_defaults_.size()), world_size());
  const std::string other_model = engine_json + ": the checkpoint holds another model than this engine's: ";
  if (saved.groups.size() != flat.groups().size())
    throw std::runtime_error(other_model + std::to_string(saved.groups.size()) + " optimizer groups there, " +
                             std::to_string(flat.groups().size()) + " here");
  if (saved.params.size() != flat.params().size())
    throw std::runtime_error(other_model + std::to_string(saved.params.size()) + " parameters there, " +
                             std::to_string(flat.params().size()) + " here");
  for (size_t i = 0; i < saved.params.size(); ++i) {
    const sdk::FlatParam& here = flat.params()[i];
    const checkpoint::SavedParam& there = saved.params[i];
    if (there.name != params_[i].name || there.group != here.group || there.offset != here.offset)
      throw std::runtime_error(other_model + "parameter " + std::to_string(i) + " is " + there.name + " in group " +
                               std::to_string(there.group) + " at offset " + std::to_string(there.offset) +
                               " there, " + params_[i].name + " in group " + std::to_string(here.group) +
                               " at offset " + std::to_string(here.offset) + " here");
  }
  for (size_t g = 0; g < saved.groups.size(); ++g)
    if (saved.groups[g].numel != flat.groups()[g].numel)
      throw std::runtime_error(other_model + "group " + std::to_string(g) + " has " +
                               std::to_string(saved.groups[g].numel) + " elements there, " +
                               std::to_string(flat.groups()[g].numel) + " here");

  // The same optimizer state, by name: Adam's moments are the same under adamw and cpu_adamw (on the
  // device or offloaded), but not what Lion keeps.
  std::vector<std::string> here;
  for (const auto& [name, view] : engine_state::optimizer_buffers(*ranks_[0]->optimizer, *ranks_[0]->optimizer_vt))
    here.push_back(name);
  std::vector<std::string> there = saved.optimizer_state_names();
  {
    std::vector<std::string> a = here, b = there;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a != b)
      throw std::runtime_error(saved.rank_file(0).string() + ": the checkpoint's optimizer state is " + joined(there) +
                               "; this engine's optimizer (" + ranks_[0]->optimizer->label() + ") keeps " +
                               joined(here) + " (another optimizer: load the weights alone to change it)");
  }

  const checkpoint::SavedShards shards(saved);
  std::vector<std::string> states{"master"};
  states.insert(states.end(), here.begin(), here.end());
  // One state at a time: the whole model's values of one state are in memory at once, not all of them.
  for (const std::string& state : states) {
    std::vector<std::vector<float>> groups;  // the real elements of each group
    for (size_t g = 0; g < saved.groups.size(); ++g) groups.push_back(shards.gather(state, g));
    on_ranks([&](int32_t r) {
      Rank& rank = *ranks_[static_cast<size_t>(r)];
      // This rank's part of each group, in group order: the master shards, and the sections of each
      // optimizer state (which the stages lay out in the same order and lengths).
      std::vector<float> part;
      for (uint32_t g = 0; g < groups.size(); ++g) {
        const engine_state::MasterShard master = engine_state::master_shard(*rank.stage, *rank.stage_vt, g);
        const tandem_tensor_view& shard = master.view;
        const uint64_t offset = master.offset, padded = master.padded;
        const size_t n = master.numel;
        if (padded != flat.groups()[g].padded || offset + n > padded)
          throw std::runtime_error(rank.stage->label() + ": master shard of group " + std::to_string(g) + " (" +
                                   std::to_string(n) + " elements at " + std::to_string(offset) + " of " +
                                   std::to_string(padded) + ") is not in the flat layout's buffer of " +
                                   std::to_string(flat.groups()[g].padded));
        const std::vector<float>& real = groups[g];
        std::vector<float> values(n, 0.0f);
        for (size_t i = 0; i < n && offset + i < real.size(); ++i) values[i] = real[offset + i];
        if (state == "master") engine_state::write_view(values, shard, gpu_.get());
        part.insert(part.end(), values.begin(), values.end());
      }
      if (state == "master") return;
      for (const auto& [name, view] : engine_state::optimizer_buffers(*rank.optimizer, *rank.optimizer_vt)) {
        if (name != state) continue;
        if (engine_state::view_numel(view) != part.size())
          throw std::runtime_error(rank.optimizer->label() + ": optimizer state '" + name + "' has " +
                                   std::to_string(engine_state::view_numel(view)) +
                                   " elements; the stage's master shards have " + std::to_string(part.size()));
        engine_state::write_view(part, view, gpu_.get());
      }
    });
  }
}

}  // namespace tandem
