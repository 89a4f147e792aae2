// "Did you mean ...?": the known name nearest to one that is not known, by edit distance, so that a
// typo in a config key, a command-line option or a command gets the right spelling back.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::text {

// Levenshtein distance (insertions, deletions and substitutions of one byte each).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `unknown` (compared in lower case, with '_' and '-' alike), if one is
// within max(2, size/4) edits; the first of equals wins.
std::optional<std::string> nearest_name(std::string_view unknown, const std::vector<std::string_view>& candidates);

}  // namespace tandem::text
