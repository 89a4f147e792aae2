// check_not_writable_by_others(): see file_trust.hpp for the rule and why.
#include "loader/file_trust.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
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

}  // namespace tandem::loader
