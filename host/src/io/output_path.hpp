// What a file tandem is asked to write may be before it writes it (nothing a user has is lost): absent,
// or a regular file that the user let tandem replace. A symlink, device, FIFO, socket or directory is
// never written through, since renaming a new file over it would replace the node itself (a /dev/full
// turned into a regular file, a symlink replaced rather than followed).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace tandem::io {

// What the node at `path` is when it is not a regular file ("a symbolic link", "a FIFO", ...); nullopt
// for a regular file or nothing at all.
std::optional<std::string> irregular_kind(const std::filesystem::path& path);

// Throws std::invalid_argument "<what> <path> is a FIFO; ..." for an irregular node, and
// "<what> <path> already exists: <how_to_replace> replaces it, or ..." for an existing regular file
// unless `replace` is true. `what` names the output for the user ("OUT", "metrics").
void check_output_path(const std::filesystem::path& path, bool replace, const std::string& what,
                       const std::string& how_to_replace);

}  // namespace tandem::io
