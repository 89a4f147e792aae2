// `--resume PATH`: the checkpoint a user names, checked before anything is loaded from it.
//
// PATH is a step-N directory (engine.json, model.safetensors, rank<R>.safetensors, trainer.json,
// manifest.json) of this run or another, or a checkpoint_dir with `latest` (its newest whole one).
// It is only read: the run writes its own checkpoints into its own checkpoint_dir, whose retention
// never looks outside it. Refused, each naming PATH and what to do: a path that does not exist or is
// not a checkpoint, one that fails its manifest (named: no older one is taken instead), one without
// the data position (trainer.json), and one of an older step than checkpoints already in the run's
// own checkpoint_dir, which the resumed run would replace. Another model is refused by Engine::load,
// naming the tensor whose shape differs.
#pragma once

#include <filesystem>
#include <string>

#include "train/checkpoint_dir.hpp"

namespace tandem {

// The checkpoint to load for `--resume PATH`; `own` is the run's checkpoint_dir, `source` the run
// file (for messages). Throws std::invalid_argument (bad input: exit 2) for each refusal above.
std::filesystem::path named_checkpoint(const std::filesystem::path& path, const CheckpointDir& own,
                                       const std::string& source);

}  // namespace tandem
