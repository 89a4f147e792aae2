#include "io/output_path.hpp"

#include <stdexcept>
#include <system_error>

namespace tandem::io {

namespace fs = std::filesystem;

std::optional<std::string> irregular_kind(const fs::path& path) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(path, ec);  // the link itself, never its target
  switch (status.type()) {
    case fs::file_type::not_found:
    case fs::file_type::regular: return std::nullopt;
    case fs::file_type::none: return ec ? std::optional<std::string>("unreadable (" + ec.message() + ")") : std::nullopt;
    case fs::file_type::directory: return "a directory";
    case fs::file_type::symlink: return "a symbolic link";
    case fs::file_type::block: return "a block device";
    case fs::file_type::character: return "a character device";
    case fs::file_type::fifo: return "a FIFO";
    case fs::file_type::socket: return "a socket";
    default: return "not a regular file";
  }
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
