// `tandem checkpoint inspect DIR [--json]`: what checkpoints hold, each verified.
//
// DIR is one checkpoint (a step-N directory with engine.json), a checkpoint_dir (its step-N
// checkpoints, oldest first), or the checkpoint_dir of a run of several models ("models" in the run
// file: one checkpoint_dir per model, <DIR>/<name>/step-N). For each checkpoint: the engine's name,
// ZeRO stage, world size, step counters, the model's tensors and parameter count, the optimizer
// groups with their padding, the optimizer state's names, the data position (trainer.json, where a
// run wrote one) and the files with their sizes. Verifying a checkpoint is: its manifest (every
// file's size and CRC-32C), engine.json's fields and layout, model.safetensors against the layout,
// and every state (master weights, each optimizer state) gathered across the rank shards, which
// must cover the model and agree where they overlap: what loading under another topology reads.
#pragma once

#include <filesystem>

#include "tandem/json.hpp"

namespace tandem {

// {"path": DIR, "whole": bool, "checkpoints": [{"path", "model" (the checkpoint_dir's name in a
// run of several models, else absent), "whole", "damage" (null or the first reason), and, as far as
// they could be read, "engine", "version", "stage", "world_size", "global_steps", "taken_steps",
// "skipped_steps", "micro_steps", "tensors", "parameters", "groups": [{"numel", "padded"}],
// "optimizer_state": [names], "scheduler": bool, "data": {"epoch", "step", "world_size",
// "micro_batch", "block_size", "seed", "train_tokens"} or null, "bytes", "files": [{"name",
// "size"}]}]}. Throws std::invalid_argument when DIR is none of the three (nothing to inspect).
json::Value inspect_checkpoints(const std::filesystem::path& dir);

}  // namespace tandem
