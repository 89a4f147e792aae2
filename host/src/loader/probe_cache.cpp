// ProbeCache: see probe_cache.hpp.
#include "loader/probe_cache.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "loader/file_trust.hpp"

namespace tandem::loader {

namespace {

constexpr size_t kMaxEntries = 1024;

std::filesystem::path cache_file() {
  const char* off = std::getenv("TANDEM_MODULE_PROBE_CACHE");
  if (off != nullptr && std::string(off) == "off") return {};
  std::filesystem::path dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/') dir = xdg;
  else if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') dir = std::filesystem::path(home) / ".cache";
  else return {};
  return dir / "tandem" / "module-probes-v1.tsv";
}

// The file's identity, or "" if it cannot be read.
std::string identity(const std::filesystem::path& canonical) {
  struct stat st {};
  if (::stat(canonical.c_str(), &st) != 0) return {};
  auto ns = [](const timespec& t) { return std::to_string(t.tv_sec) + "." + std::to_string(t.tv_nsec); };
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
         ns(st.st_mtim) + ":" + ns(st.st_ctim);
}

std::string canonical_text(const std::filesystem::path& file) {
  std::error_code ec;
  const std::filesystem::path c = std::filesystem::canonical(file, ec);
  return ec ? std::string() : c.string();
}

}  // namespace

ProbeCache::ProbeCache() : file_(cache_file()) {
  if (file_.empty()) return;
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) return;
  if (check_not_writable_by_others(file_.parent_path(), "module directory") ||
      check_not_writable_by_others(file_, "module file")) {
    file_.clear();  // someone else could write it: not ours to trust, nor to write
    return;
  }
  std::ifstream in(file_);
  std::string line;
  // Each line: canonical path, identity, then a probe result line ("module\t0\t...").
  while (std::getline(in, line)) {
    const size_t a = line.find('\t');
    const size_t b = a == std::string::npos ? a : line.find('\t', a + 1);
    if (b == std::string::npos) continue;
    ProbeEvent event;
    size_t index = 0;
    ProbeOutcome outcome;
    if (!decode_line(line.substr(b + 1), event, index, outcome) || event != ProbeEvent::result || !outcome.module)
      continue;
    entries_[line.substr(0, a)] = Entry{line.substr(a + 1, b - a - 1), std::move(*outcome.module)};
  }
}

std::optional<ProbedModule> ProbeCache::find(const std::filesystem::path& file) const {
  if (file_.empty()) return std::nullopt;
  const std::string path = canonical_text(file);
  const auto it = entries_.find(path);
  if (it == entries_.end() || it->second.identity.empty() || it->second.identity != identity(path)) return std::nullopt;
  return it->second.module;
}

void ProbeCache::remember(const std::filesystem::path& file, const ProbedModule& module) {
  if (file_.empty()) return;
  const std::string path = canonical_text(file);
  const std::string id = path.empty() ? std::string() : identity(path);
  if (id.empty() || path.find_first_of("\t\n") != std::string::npos) return;
  if (entries_.size() >= kMaxEntries && entries_.count(path) == 0) entries_.erase(entries_.begin());
  entries_[path] = Entry{id, module};
  changed_ = true;
}

void ProbeCache::save() const {
  if (file_.empty() || !changed_) return;
  std::error_code ec;
  const std::filesystem::path dir = file_.parent_path();
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return;
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
  }
  if (check_not_writable_by_others(dir, "module directory")) return;
  const std::filesystem::path temporary = file_.string() + "." + std::to_string(::getpid()) + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    for (const auto& [path, entry] : entries_) {
      if (identity(path) != entry.identity) continue;  // gone or changed: its next probe says what it is
      ProbeOutcome outcome;
      outcome.module = entry.module;
      out << path << '\t' << entry.identity << '\t' << encode_outcome(0, outcome);
    }
    if (!out.flush()) {
      out.close();
      std::filesystem::remove(temporary, ec);
      return;
    }
  }
  std::filesystem::permissions(temporary, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace, ec);
  std::filesystem::rename(temporary, file_, ec);
  if (ec) std::filesystem::remove(temporary, ec);
}

}  // namespace tandem::loader
