#include "io/output_path.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "io/regular_file.hpp"

namespace tandem::io {

namespace fs = std::filesystem;

std::optional<std::string> irregular_kind(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {  // the link itself, never its target
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;  // nothing there yet
    return "unreadable (" + std::generic_category().message(errno) + ")";
  }
  if (S_ISREG(st.st_mode)) return std::nullopt;
  return file_kind(st.st_mode);
}

void check_output_path(const fs::path& path, bool replace, const std::string& what, const std::string& how_to_replace) {
  if (const std::optional<std::string> kind = irregular_kind(path))
    throw std::invalid_argument(what + " " + path.string() + " is " + *kind +
                                "; tandem writes only a regular file (or a path that does not exist yet)");
  std::error_code ec;
  if (!replace && fs::exists(fs::symlink_status(path, ec)))
    throw std::invalid_argument(what + " " + path.string() + " already exists: " + how_to_replace +
                                " replaces it, or name another path (nothing was written)");
}

}  // namespace tandem::io
