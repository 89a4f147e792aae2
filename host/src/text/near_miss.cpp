#include "text/near_miss.hpp"

#include <algorithm>
#include <cctype>

namespace tandem::text {

namespace {

std::string folded(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> nearest_name(std::string_view unknown, const std::vector<std::string_view>& candidates) {
  const std::string word = folded(unknown);
  std::optional<std::string> best;
  size_t best_distance = std::max<size_t>(2, unknown.size() / 4) + 1;
  for (std::string_view name : candidates) {
    const size_t d = edit_distance(word, folded(name));
    if (d < best_distance) {
      best_distance = d;
      best = std::string(name);
    }
  }
  return best;
}

}  // namespace tandem::text
