// Who may change the code this process loads.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace tandem::loader {

// Loading a module runs its code in this process, with this process's rights: its static
// constructors at dlopen, then every function the host calls. Whoever can write a module file can
// therefore run code as us, and so can whoever can write a module directory (they can replace a file
// or drop a new libtandem-*.so into it). So, as ssh refuses an authorized_keys that others can write,
// a module file or a scanned module directory is refused when:
//   - every user can write it (o+w), or its group can (g+w), or
//   - it belongs to a user other than the effective user of this process or root.
// A symlink is judged by its target (stat follows it): the target is what gets loaded or read.
// Returns why `path` is not trusted (naming it, what can write it, and how to fix it), or nullopt.
// `what` is "module file" or "module directory".
std::optional<std::string> check_not_writable_by_others(const std::filesystem::path& path, const char* what);

// Whoever can rename an entry of a directory on the way to a module can put another file in its
// place, so every directory that the lookup of `path` passes through is judged too: each component
// of the path, and of each symlink's target met on the way (followed as the kernel does, hop by hop).
// Refused (naming the directory, and the symlink that led there where one did) when a directory is
// writable by every user and has no sticky bit. A world-writable directory with the sticky bit (/tmp)
// is accepted when the entry looked up in it belongs to this process's user or root: the sticky bit
// lets only the entry's owner rename or remove it. Directories writable by their group are accepted
// here (Debian's /usr/local is root:staff 2775); the module file and the scanned directory itself
// stay under check_not_writable_by_others' stricter rule.
// Returns why `path` is not trusted, or nullopt. `what` is "module file" or "module directory".
std::optional<std::string> check_path_not_replaceable_by_others(const std::filesystem::path& path, const char* what);

}  // namespace tandem::loader
