// check_not_writable_by_others() and check_path_not_replaceable_by_others(): see file_trust.hpp
// for the rules and why.
#include "loader/file_trust.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <vector>

namespace tandem::loader {

namespace {

std::string octal_mode(mode_t mode) {
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), "%04o", static_cast<unsigned>(mode & 07777));
  return buffer;
}

std::string user_text(uid_t uid) {
  std::vector<char> buffer(16384);
  passwd pw{};
  passwd* found = nullptr;
  std::string text = "uid " + std::to_string(uid);
  if (getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) == 0 && found != nullptr)
    return "user '" + std::string(found->pw_name) + "' (" + text + ")";
  return text;
}

std::string group_text(gid_t gid) {
  std::vector<char> buffer(16384);
  group gr{};
  group* found = nullptr;
  std::string text = "gid " + std::to_string(gid);
  if (getgrgid_r(gid, &gr, buffer.data(), buffer.size(), &found) == 0 && found != nullptr)
    return "group '" + std::string(found->gr_name) + "' (" + text + ")";
  return text;
}

}  // namespace

std::optional<std::string> check_not_writable_by_others(const std::filesystem::path& path, const char* what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return std::string("cannot check who may write the ") + what + ": stat failed: " + std::strerror(errno);
  std::error_code ec;
  const bool is_link = std::filesystem::is_symlink(path, ec);
  const std::string subject =
      std::string("the ") + what + (is_link ? " (through its symlink target '" + std::filesystem::canonical(path, ec).string() + "')" : std::string());
  const std::string why = "loading a module runs its code in this process, so only its owner may be able to change it";
  const std::string mode = "mode " + octal_mode(st.st_mode);
  if ((st.st_mode & S_IWOTH) != 0)
    return subject + " is writable by every user (" + mode + "); " + why + "; fix: chmod go-w '" + path.string() + "'";
  if ((st.st_mode & S_IWGRP) != 0)
    return subject + " is writable by " + group_text(st.st_gid) + " (" + mode + "); " + why + "; fix: chmod go-w '" +
           path.string() + "'";
  const uid_t me = ::geteuid();
  if (st.st_uid != me && st.st_uid != 0)
    return subject + " belongs to " + user_text(st.st_uid) + ", neither this process's " + user_text(me) +
           " nor root; " + why + "; fix: chown it to yourself or root (or remove it)";
  return std::nullopt;
}

namespace {

// The lookup of a path, component by component, with symlinks expanded in place as the kernel does.
// `visit(dir, entry)` is called for every directory the lookup reads an entry from; it returns a
// reason to stop, or nullopt. `via` is the last symlink followed ("" if none yet).
template <class Visit>
std::optional<std::string> walk_lookup(const std::filesystem::path& path, Visit visit) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path start = fs::absolute(path, ec);
  if (ec) return std::nullopt;  // the later checks name the file
  std::deque<std::string> rest;
  for (const fs::path& part : start.relative_path()) rest.push_back(part.string());
  fs::path at = "/";
  std::string via;
  int hops = 0;
  while (!rest.empty()) {
    const std::string name = rest.front();
    rest.pop_front();
    if (name.empty() || name == ".") continue;
    if (name == "..") {
      at = at.parent_path();
      continue;
    }
    if (auto bad = visit(at, name, via)) return bad;
    const fs::path next = at / name;
    struct stat st {};
    if (::lstat(next.c_str(), &st) != 0) return std::nullopt;  // missing: the later checks say so
    if (!S_ISLNK(st.st_mode)) {
      at = next;
      continue;
    }
    if (++hops > 40) return std::nullopt;  // a loop: canonical() in the caller reports it
    const fs::path target = fs::read_symlink(next, ec);
    if (ec) return std::nullopt;
    via = next.string();
    std::deque<std::string> expanded;
    for (const fs::path& part : target.relative_path()) expanded.push_back(part.string());
    rest.insert(rest.begin(), expanded.begin(), expanded.end());
    if (target.is_absolute()) at = "/";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> check_path_not_replaceable_by_others(const std::filesystem::path& path, const char* what) {
  const uid_t me = ::geteuid();
  return walk_lookup(path, [&](const std::filesystem::path& dir, const std::string& entry,
                               const std::string& via) -> std::optional<std::string> {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || (st.st_mode & S_IWOTH) == 0) return std::nullopt;
    const std::string subject = std::string("the ") + what + " is reached through '" +
                                dir.string() + "'" + (via.empty() ? "" : " (the target of the symlink '" + via + "')");
    const std::string why = "any user can put another file there; loading a module runs its code in this process";
    if ((st.st_mode & S_ISVTX) == 0)
      return subject + ", a directory writable by every user without the sticky bit (mode " + octal_mode(st.st_mode) +
             "); " + why + "; fix: chmod o-w '" + dir.string() + "', or move the module out of it";
    struct stat entry_st {};
    if (::lstat((dir / entry).c_str(), &entry_st) == 0 && entry_st.st_uid != me && entry_st.st_uid != 0)
      return subject + ", a directory every user can write (mode " + octal_mode(st.st_mode) + "), whose entry '" +
             entry + "' belongs to " + user_text(entry_st.st_uid) + ", neither this process's " + user_text(me) +
             " nor root; that user can replace it; fix: move the module into a directory of your own";
    return std::nullopt;
  });
}

}  // namespace tandem::loader
