#include "train/named_checkpoint.hpp"

#include <iostream>

#include "checkpoint/saved_engine.hpp"
#include "tandem/checkpoint.hpp"
#include "tandem/checkpoint_manifest.hpp"

namespace tandem {

std::filesystem::path named_checkpoint(const std::filesystem::path& path, const CheckpointDir& own,
                                       const std::string& source) {
  const std::string what = source + ": --resume " + path.string() + ": ";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw std::invalid_argument(what + "no such file or directory");
  if (!std::filesystem::is_directory(path, ec))
    throw std::invalid_argument(what + "not a directory; name a checkpoint (a step-N directory a run wrote)");
  std::filesystem::path checkpoint = path;
  if (!std::filesystem::exists(path / "engine.json")) {
    if (!std::filesystem::exists(path / "latest"))
      throw std::invalid_argument(what + "not a checkpoint (no engine.json) nor a checkpoint_dir (no latest); name a "
                                  "step-N directory that tandem train or distill wrote");
    try {
      const std::optional<std::filesystem::path> latest = CheckpointDir(path).latest(std::cerr);
      if (!latest) throw std::invalid_argument(what + "a checkpoint_dir that holds no checkpoint");
      checkpoint = *latest;
    } catch (const CheckpointError& e) {
      throw std::invalid_argument(what + e.what());
    }
  }
  // Strict: the user named this one, so a damaged one is an error, never a silent step back.
  if (const std::optional<std::string> damage = find_checkpoint_damage(checkpoint))
    throw std::invalid_argument(what + "checkpoint " + checkpoint.string() + " is damaged: " + *damage +
                                "; nothing was loaded (name another checkpoint)");
  if (!std::filesystem::exists(checkpoint / "trainer.json"))
    throw std::invalid_argument(what + (checkpoint / "trainer.json").string() +
                                " is missing: the checkpoint holds no data position (Engine::save writes none; "
                                "tandem train and distill do)");
  int64_t step = 0;
  try {
    step = checkpoint::SavedEngine::read(checkpoint).global_steps;
  } catch (const CheckpointError& e) {
    throw std::invalid_argument(what + e.what());
  }
  const std::vector<std::filesystem::path> newer = own.newer_than(step);
  if (!newer.empty())
    throw std::invalid_argument(what + "this run's checkpoint_dir " + own.path().string() + " holds " +
                                newer.front().filename().string() + (newer.size() > 1 ? " and others" : "") +
                                ", newer than step " + std::to_string(step) +
                                ", which the resumed run would replace; set another checkpoint_dir in the run "
                                "file (the named checkpoint is only read), or move the newer ones away");
  return checkpoint;
}

}  // namespace tandem
