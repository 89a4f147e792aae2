// The trust rule for the way to a module (issue 18, item 6): a module reached through a directory
// that every user can write, without the sticky bit, is refused naming that directory, and so is one
// reached through a symlink whose target lies in such a directory; the sticky /tmp-like case is
// accepted when the entry in it is ours. (The tests run as any user: only modes are involved.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader/file_trust.hpp"
#include "loader_test_support.hpp"

namespace {

using namespace loader_test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using tandem::ModuleRegistry;

constexpr fs::perms kWorldWritable = fs::perms::all;                                  // 0777
constexpr fs::perms kSticky = fs::perms::all | fs::perms::sticky_bit;                 // 1777
constexpr fs::perms kPrivate = fs::perms::owner_all;                                  // 0700

// root/open (mode `open_mode`) / mine (0700) / the module; returns the module's path.
fs::path module_under(const TempDir& root, fs::perms open_mode, const std::string& fixture_name = "handmade_ok") {
  const fs::path open = root.subdir("open");
  const fs::path mine = open / "mine";
  fs::create_directory(mine);
  fs::permissions(mine, kPrivate, fs::perm_options::replace);
  const fs::path file = root.add(fixture(fixture_name), {}, mine);
  fs::permissions(open, open_mode, fs::perm_options::replace);
  return file;
}

TEST(PathTrust, AModuleBelowAWorldWritableDirectoryIsRefusedNamingIt) {
  TempDir root;
  const fs::path file = module_under(root, kWorldWritable);
  const fs::path open = root.path() / "open";
  ModuleRegistry registry;
  registry.load_file(file);
  EXPECT_TRUE(registry.modules().empty());
  const tandem::Refusal* r = refusal_for(registry, file);
  ASSERT_NE(r, nullptr) << all_refusals(registry);
  EXPECT_THAT(r->reason, HasSubstr("is reached through '" + open.string() +
                                   "', a directory writable by every user without the sticky bit (mode 0777)"));
  EXPECT_THAT(r->reason, HasSubstr("fix: chmod o-w '" + open.string() + "'"));
  fs::permissions(open, kPrivate, fs::perm_options::replace);  // so that TempDir can remove it
}

TEST(PathTrust, ScanningADirectoryBelowOneLoadsNothingOfIt) {
  TempDir root;
  const fs::path file = module_under(root, kWorldWritable);
  root.add(fixture("param_probe"), {}, file.parent_path());
  ModuleRegistry registry;
  registry.scan({file.parent_path()});
  EXPECT_TRUE(registry.modules().empty());
  ASSERT_EQ(registry.refusals().size(), 1u) << all_refusals(registry);
  EXPECT_EQ(registry.refusals()[0].file, file.parent_path());
  EXPECT_THAT(registry.refusals()[0].reason, HasSubstr("the module directory is reached through '" +
                                                       (root.path() / "open").string() + "'"));
  EXPECT_THAT(registry.refusals()[0].reason, HasSubstr("none of its modules was loaded"));
}

TEST(PathTrust, ASymlinkIntoAWorldWritableDirectoryIsRefusedNamingBoth) {
  TempDir root;
  const fs::path target = module_under(root, kWorldWritable);
  const fs::path scanned = root.subdir("scanned");
  const fs::path link = scanned / "libtandem-scheduler-handmade_ok.so";
  fs::create_symlink(target, link);
  root.add(fixture("param_probe"), {}, scanned);
  ModuleRegistry registry;
  registry.scan({scanned});
  EXPECT_THAT(loaded(registry), ElementsAre("scheduler/param_probe")) << all_refusals(registry);
  const tandem::Refusal* r = refusal_for(registry, link);
  ASSERT_NE(r, nullptr) << all_refusals(registry);
  EXPECT_THAT(r->reason, HasSubstr("is reached through '" + (root.path() / "open").string() +
                                   "' (the target of the symlink '" + link.string() + "')"));
  EXPECT_THAT(r->reason, HasSubstr("without the sticky bit"));
}

TEST(PathTrust, ARelativeSymlinkToADirectoryIsFollowedToo) {
  TempDir root;
  const fs::path target = module_under(root, kWorldWritable);
  const fs::path scanned = root.subdir("scanned");
  fs::create_directory_symlink("../open/mine", scanned / "via");
  ModuleRegistry registry;
  const fs::path through = scanned / "via" / target.filename();
  registry.load_file(through);
  const tandem::Refusal* r = refusal_for(registry, through);
  ASSERT_NE(r, nullptr) << all_refusals(registry);
  EXPECT_THAT(r->reason, HasSubstr("(the target of the symlink '" + (scanned / "via").string() + "')"));
}

TEST(PathTrust, AStickyWorldWritableDirectoryIsAcceptedWhenTheEntryIsOurs) {
  TempDir root;
  const fs::path file = module_under(root, kSticky);
  ModuleRegistry registry;
  registry.scan({file.parent_path()});
  EXPECT_THAT(loaded(registry), ElementsAre("scheduler/handmade_ok")) << all_refusals(registry);
  EXPECT_EQ(tandem::loader::check_path_not_replaceable_by_others(file, "module file"), std::nullopt);
}

TEST(PathTrust, AStickyDirectorysEntryOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory to another user";
  TempDir root;
  const fs::path file = module_under(root, kSticky);
  ASSERT_EQ(::chown(file.parent_path().c_str(), 65534, 65534), 0);
  const std::optional<std::string> bad = tandem::loader::check_path_not_replaceable_by_others(file, "module file");
  ASSERT_TRUE(bad.has_value());
  EXPECT_THAT(*bad, HasSubstr("whose entry 'mine' belongs to"));
  EXPECT_THAT(*bad, HasSubstr("(uid 65534)"));
}

TEST(PathTrust, GroupWritableDirectoriesOnTheWayAreAccepted) {
  // Debian's /usr/local is root:staff 2775: modules installed below it must load.
  TempDir root;
  const fs::path file = module_under(root, fs::perms::owner_all | fs::perms::group_all | fs::perms::set_gid |
                                               fs::perms::others_read | fs::perms::others_exec);
  EXPECT_EQ(tandem::loader::check_path_not_replaceable_by_others(file, "module file"), std::nullopt);
}

}  // namespace
