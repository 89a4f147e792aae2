// The probe cache (loader/probe_cache.hpp): a file whose probe succeeded is not loaded again by a
// later scan while it is unchanged; a changed file, a file that failed, and a cache that others can
// write are probed again. Counted with a fixture that logs each time its constructors run.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "loader_test_support.hpp"

namespace {

using namespace loader_test;
using ::testing::ElementsAre;
using tandem::ModuleRegistry;

int lines_in(const fs::path& file) {
  std::ifstream in(file);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// A scan of `dir` by a registry of its own (which lets go of what it loaded when it ends).
std::vector<std::string> scan_once(const fs::path& dir) {
  ModuleRegistry registry;
  registry.scan({dir});
  return loaded(registry);
}

struct CacheScene {
  TempDir root;
  fs::path cache = root.subdir("cache");
  fs::path dir = root.subdir("modules");
  fs::path log = root.path() / "loads.log";
  fs::path module = root.add(fixture("counts_loads"), {}, dir);
  ScopedEnv xdg{"XDG_CACHE_HOME", cache.string()};
  ScopedEnv counter{"TANDEM_TEST_LOAD_LOG", log.string()};
  ScopedEnv on{"TANDEM_MODULE_PROBE_CACHE", "on"};
};

TEST(ProbeCache, AnUnchangedFileIsProbedOnce) {
  CacheScene s;
  EXPECT_THAT(scan_once(s.dir), ElementsAre("scheduler/counts_loads"));
  EXPECT_EQ(lines_in(s.log), 1);
  EXPECT_TRUE(fs::exists(s.cache / "tandem" / "module-probes-v1.tsv"));
  EXPECT_THAT(scan_once(s.dir), ElementsAre("scheduler/counts_loads"));
  EXPECT_THAT(scan_once(s.dir), ElementsAre("scheduler/counts_loads"));
  EXPECT_EQ(lines_in(s.log), 1) << "an unchanged file was probed again";
  // Opening it for use still loads it, here.
  ModuleRegistry registry;
  registry.scan({s.dir});
  EXPECT_STREQ(registry.open(registry.get(tandem::ModuleKind::Scheduler, "counts_loads")).name, "counts_loads");
  EXPECT_EQ(lines_in(s.log), 2);
}

TEST(ProbeCache, AChangedFileIsProbedAgain) {
  CacheScene s;
  scan_once(s.dir);
  fs::last_write_time(s.module, fs::last_write_time(s.module) + std::chrono::seconds(1));
  scan_once(s.dir);
  EXPECT_EQ(lines_in(s.log), 2);
  fs::permissions(s.module, fs::perms::owner_all, fs::perm_options::replace);  // chmod changes ctime
  scan_once(s.dir);
  EXPECT_EQ(lines_in(s.log), 3);
  scan_once(s.dir);
  EXPECT_EQ(lines_in(s.log), 3);
}

TEST(ProbeCache, OffOrWritableByOthersMeansEveryScanProbes) {
  CacheScene s;
  {
    const ScopedEnv off("TANDEM_MODULE_PROBE_CACHE", "off");
    scan_once(s.dir);
    scan_once(s.dir);
    EXPECT_EQ(lines_in(s.log), 2);
    EXPECT_FALSE(fs::exists(s.cache / "tandem"));
  }
  scan_once(s.dir);  // writes the cache
  EXPECT_EQ(lines_in(s.log), 3);
  fs::permissions(s.cache / "tandem", fs::perms::all, fs::perm_options::replace);
  scan_once(s.dir);
  EXPECT_EQ(lines_in(s.log), 4) << "a cache that every user can write was trusted";
}

TEST(ProbeCache, FailuresAreNotRemembered) {
  const ScopedEnv limit("TANDEM_MODULE_LOAD_TIMEOUT", "1");
  CacheScene s;
  const fs::path crash = s.root.add(fixture("crash_on_load"), {}, s.dir);
  for (int i = 0; i < 2; ++i) {
    ModuleRegistry registry;
    registry.scan({s.dir});
    const tandem::Refusal* r = refusal_for(registry, crash);
    ASSERT_NE(r, nullptr) << all_refusals(registry);
    EXPECT_TRUE(r->died_loading);
  }
}

}  // namespace
