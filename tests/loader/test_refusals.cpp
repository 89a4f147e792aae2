// Every refusal of the issue on real .so fixtures: each names the file and the reason, and every
// other module of the same scan still loads.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <link.h>  // ElfW: the program headers of the fixture

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <vector>

#include "loader/cuda_code.hpp"
#include "loader_test_support.hpp"

namespace {

using namespace loader_test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using tandem::ModuleRegistry;

const std::string kHostAbi = std::to_string(TANDEM_ABI_MAJOR) + "." + std::to_string(TANDEM_ABI_MINOR);

// Scans a directory holding the good param_probe module plus `bad` (copied under `name`), and checks
// that param_probe loaded and `bad` was refused; returns the refusal's message.
std::string refusal_beside_a_good_module(const fs::path& bad, const std::string& name = {}) {
  TempDir dir;
  dir.add(fixture("param_probe"));
  const fs::path file = dir.add(bad, name);
  ModuleRegistry registry;
  registry.scan({dir.path()});
  EXPECT_THAT(loaded(registry), ElementsAre("scheduler/param_probe")) << all_refusals(registry);
  EXPECT_EQ(registry.refusals().size(), 1u) << all_refusals(registry);
  const tandem::Refusal* r = refusal_for(registry, file);
  if (r == nullptr) {
    ADD_FAILURE() << "no refusal for " << file << "\n" << all_refusals(registry);
    return {};
  }
  EXPECT_THAT(r->message(), HasSubstr("refused module file '" + file.string() + "': "));
  return r->message();
}

TEST(Refusals, ControlHandmadeDescriptorLoads) {
  // The handmade fixtures differ from this one by a single field each.
  TempDir dir;
  dir.add(fixture("handmade_ok"));
  ModuleRegistry registry;
  registry.scan({dir.path()});
  EXPECT_THAT(loaded(registry), ElementsAre("scheduler/handmade_ok")) << all_refusals(registry);
}

TEST(Refusals, AbiMajorDiffersNamesBothVersions) {
  const std::string m = refusal_beside_a_good_module(fixture("wrong_major"));
  EXPECT_THAT(m, HasSubstr("wrong ABI version: the module was built for tandem ABI " +
                           std::to_string(TANDEM_ABI_MAJOR + 1) + "." + std::to_string(TANDEM_ABI_MINOR) +
                           ", this host supports ABI " + kHostAbi));
}

TEST(Refusals, AbiMinorNewerThanHost) {
  const std::string m = refusal_beside_a_good_module(fixture("newer_minor"));
  EXPECT_THAT(m, HasSubstr("ABI version too new: the module was built for tandem ABI " +
                           std::to_string(TANDEM_ABI_MAJOR) + "." + std::to_string(TANDEM_ABI_MINOR + 1) +
                           ", this host supports ABI " + kHostAbi));
}

TEST(Refusals, UndersizedDescriptor) {
  const std::string m = refusal_beside_a_good_module(fixture("undersized"));
  EXPECT_THAT(m, HasSubstr("descriptor is " + std::to_string(offsetof(tandem_module_descriptor, create)) +
                           " bytes, at least " + std::to_string(sizeof(tandem_module_descriptor)) + " expected"));
}

TEST(Refusals, DescriptorThatIsAShortBlob) {
  const std::string m = refusal_beside_a_good_module(fixture("short_blob"));
  EXPECT_THAT(m, HasSubstr("descriptor is 8 bytes, at least " + std::to_string(sizeof(tandem_module_descriptor)) +
                           " expected"));
}

TEST(Refusals, NoEntryPoint) {
  const std::string m = refusal_beside_a_good_module(fixture("no_entry"));
  EXPECT_THAT(m, HasSubstr("no entry point: the file does not export 'tandem_module_entry'"));
}

TEST(Refusals, NotASharedObject) {
  TempDir text;
  const fs::path junk = text.write("libtandem-scheduler-junk.so", std::string(200, '#') + "\nnot an ELF file\n");
  EXPECT_THAT(refusal_beside_a_good_module(junk), HasSubstr("cannot be loaded: not a shared object (invalid ELF header)"));
  const fs::path tiny = text.write("libtandem-scheduler-tiny.so", "ab");
  EXPECT_THAT(refusal_beside_a_good_module(tiny), HasSubstr("cannot be loaded: not a shared object (file too short: 2 bytes)"));
}

// Where the parts of an ELF file that dlopen maps end: past that come only sections the loader never
// reads (debug information in a -g build), so cutting there leaves a loadable file.
uintmax_t loaded_extent(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  ElfW(Ehdr) header{};
  in.read(reinterpret_cast<char*>(&header), sizeof header);
  std::vector<ElfW(Phdr)> segments(header.e_phnum);
  in.seekg(static_cast<std::streamoff>(header.e_phoff));
  in.read(reinterpret_cast<char*>(segments.data()), static_cast<std::streamsize>(segments.size() * sizeof(ElfW(Phdr))));
  uintmax_t end = 0;
  for (const ElfW(Phdr)& s : segments)
    if (s.p_type == PT_LOAD || s.p_type == PT_DYNAMIC) end = std::max<uintmax_t>(end, s.p_offset + s.p_filesz);
  return end;
}

// dlopen maps a truncated object and the process dies of SIGBUS on the first page past the end; the
// host must refuse it from its headers first. Cut at several places within what is mapped (whatever
// the build's debug sections add after it), down to inside the ELF header.
TEST(Refusals, TruncatedSharedObjectIsNotLoadable) {
  const uintmax_t full = loaded_extent(fixture("param_probe"));
  ASSERT_GT(full, 4096u);
  for (uintmax_t size : {full - 1, full / 2, full / 4, full / 16, uintmax_t{200}, uintmax_t{40}}) {
    SCOPED_TRACE("cut to " + std::to_string(size) + " of " + std::to_string(full) + " bytes");
    TempDir cut;
    const fs::path file = cut.add(fixture("param_probe"), "libtandem-scheduler-cut.so");
    fs::resize_file(file, size);
    EXPECT_THAT(refusal_beside_a_good_module(file), HasSubstr("cannot be loaded: the file is truncated"));
  }
}

TEST(Refusals, UnresolvedSymbolIsALoadErrorNotACrash) {
  const std::string m = refusal_beside_a_good_module(fixture("unresolved"));
  EXPECT_THAT(m, HasSubstr("cannot be loaded: undefined symbol: tandem_fixture_function_nobody_defines"));
}

TEST(Refusals, FileNameMustSayWhatTheModuleIs) {
  EXPECT_THAT(refusal_beside_a_good_module(fixture("handmade_ok"), "libtandem-scheduler-other.so"),
              HasSubstr("the file name says scheduler 'other' but the module is scheduler 'handmade_ok'; rename the "
                        "file to libtandem-scheduler-handmade_ok.so"));
  EXPECT_THAT(refusal_beside_a_good_module(fixture("handmade_ok"), "libtandem-optimizer-handmade_ok.so"),
              HasSubstr("the file name says optimizer 'handmade_ok' but the module is scheduler 'handmade_ok'"));
  EXPECT_THAT(refusal_beside_a_good_module(fixture("handmade_ok"), "libtandem-handmade_ok.so"),
              HasSubstr("does not follow libtandem-<kind>-<name>.so"));
  // The canonical spelling of the name is enough.
  TempDir dir;
  dir.add(fixture("handmade_ok"), "libtandem-scheduler-HandmadeOK.so");
  ModuleRegistry registry;
  registry.scan({dir.path()});
  EXPECT_THAT(loaded(registry), ElementsAre("scheduler/handmade_ok")) << all_refusals(registry);
}

TEST(Refusals, OnlyLibtandemFilesAreScannedButLoadFileTakesAnyName) {
  TempDir dir;
  dir.add(fixture("handmade_ok"), "probe.so");
  dir.add(fixture("handmade_ok"), "libtandem-scheduler-handmade_ok.so.1");
  dir.write("README", "not a module");
  ModuleRegistry registry;
  registry.scan({dir.path()});
  EXPECT_TRUE(registry.modules().empty());
  EXPECT_TRUE(registry.refusals().empty()) << all_refusals(registry);
  registry.load_file(dir.path() / "probe.so");
  EXPECT_THAT(loaded(registry), ElementsAre("scheduler/handmade_ok")) << all_refusals(registry);
}

// ---- Duplicates ----------------------------------------------------------------------------------

// Both files refused, each naming the other; neither in modules(); the rest loads.
void expect_refused_as_duplicates(const ModuleRegistry& registry, const fs::path& a, const fs::path& b) {
  for (const auto& [self, other] : {std::pair(a, b), std::pair(b, a)}) {
    const tandem::Refusal* r = refusal_for(registry, self);
    ASSERT_NE(r, nullptr) << self << "\n" << all_refusals(registry);
    EXPECT_THAT(r->message(), HasSubstr("duplicate module: scheduler '"));
    EXPECT_THAT(r->message(), HasSubstr("is also provided by '" + other.string() + "'"));
    EXPECT_EQ(r->kind, tandem::ModuleKind::Scheduler);
  }
  EXPECT_EQ(registry.find(tandem::ModuleKind::Scheduler, "param_probe"), nullptr);
}

TEST(Refusals, DuplicateInOneDirectoryRefusesBoth) {
  TempDir dir;
  const fs::path a = dir.add(fixture("param_probe"));
  const fs::path b = dir.add(fixture("param_probe"), "libtandem-scheduler-ParamProbe.so");
  dir.add(warmup_lr_module());
  ModuleRegistry registry;
  registry.scan({dir.path()});
  expect_refused_as_duplicates(registry, a, b);
  EXPECT_THAT(loaded(registry), ElementsAre("scheduler/warmup_lr"));
}

TEST(Refusals, DuplicateAcrossDirectoriesRefusesBoth) {
  TempDir root;
  const fs::path first = root.subdir("first"), second = root.subdir("second");
  const fs::path a = root.add(fixture("param_probe"), {}, first);
  const fs::path b = root.add(fixture("param_probe"), {}, second);
  root.add(warmup_lr_module(), {}, second);
  ModuleRegistry registry;
  registry.scan({first, second});
  expect_refused_as_duplicates(registry, a, b);
  EXPECT_THAT(loaded(registry), ElementsAre("scheduler/warmup_lr"));
}

TEST(Refusals, DuplicateFoundByALaterScanUnloadsTheFirst) {
  TempDir root;
  const fs::path first = root.subdir("first"), second = root.subdir("second"), third = root.subdir("third");
  const fs::path a = root.add(fixture("param_probe"), {}, first);
  const fs::path b = root.add(fixture("param_probe"), {}, second);
  const fs::path c = root.add(fixture("param_probe"), "libtandem-scheduler-param-probe.so", third);
  ModuleRegistry registry;
  registry.scan({first});
  ASSERT_THAT(loaded(registry), ElementsAre("scheduler/param_probe"));
  registry.scan({second});
  expect_refused_as_duplicates(registry, a, b);
  // A third copy is refused too, naming both earlier ones.
  registry.scan({third});
  const tandem::Refusal* r = refusal_for(registry, c);
  ASSERT_NE(r, nullptr) << all_refusals(registry);
  EXPECT_THAT(r->reason, HasSubstr("is also provided by '" + a.string() + "', '" + b.string() + "'"));
  EXPECT_TRUE(registry.modules().empty());
}

// ---- Permissions ---------------------------------------------------------------------------------

TEST(Refusals, ModuleFileWritableByOthers) {
  TempDir dir;
  dir.add(fixture("param_probe"));
  const fs::path world = dir.add(fixture("handmade_ok"), {}, {}, fs::perms::owner_all | fs::perms::others_all);
  const fs::path group =
      dir.add(fixture("failing_factory"), {}, {}, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_write);
  ModuleRegistry registry;
  registry.scan({dir.path()});
  EXPECT_THAT(loaded(registry), ElementsAre("scheduler/param_probe"));
  const tandem::Refusal* w = refusal_for(registry, world);
  ASSERT_NE(w, nullptr) << all_refusals(registry);
  EXPECT_THAT(w->reason, HasSubstr("the module file is writable by every user (mode 0707)"));
  EXPECT_THAT(w->reason, HasSubstr("fix: chmod go-w '" + world.string() + "'"));
  const tandem::Refusal* g = refusal_for(registry, group);
  ASSERT_NE(g, nullptr) << all_refusals(registry);
  EXPECT_THAT(g->reason, HasSubstr("the module file is writable by group"));
  EXPECT_THAT(g->reason, HasSubstr("(mode 0760)"));
}

TEST(Refusals, ModuleDirectoryWritableByOthersLoadsNothingOfIt) {
  TempDir root;
  const fs::path open_dir = root.subdir("open"), group_dir = root.subdir("group"), good_dir = root.subdir("good");
  root.add(fixture("handmade_ok"), {}, open_dir);
  root.add(fixture("failing_factory"), {}, group_dir);
  root.add(fixture("param_probe"), {}, good_dir);
  fs::permissions(open_dir, fs::perms::owner_all | fs::perms::others_all, fs::perm_options::replace);
  fs::permissions(group_dir, fs::perms::owner_all | fs::perms::group_all, fs::perm_options::replace);
  ModuleRegistry registry;
  registry.scan({open_dir, group_dir, good_dir});
  EXPECT_THAT(loaded(registry), ElementsAre("scheduler/param_probe"));
  const tandem::Refusal* o = refusal_for(registry, open_dir);
  ASSERT_NE(o, nullptr) << all_refusals(registry);
  EXPECT_THAT(o->message(), HasSubstr("the module directory is writable by every user (mode 0707)"));
  EXPECT_THAT(o->message(), HasSubstr("none of its modules was loaded"));
  const tandem::Refusal* g = refusal_for(registry, group_dir);
  ASSERT_NE(g, nullptr) << all_refusals(registry);
  EXPECT_THAT(g->message(), HasSubstr("the module directory is writable by group"));
  EXPECT_EQ(registry.refusals().size(), 2u) << all_refusals(registry);
}

TEST(Refusals, ModuleFileOwnedByAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  TempDir dir;
  dir.add(fixture("param_probe"));
  const fs::path theirs = dir.add(fixture("handmade_ok"));
  ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
  ModuleRegistry registry;
  registry.scan({dir.path()});
  EXPECT_THAT(loaded(registry), ElementsAre("scheduler/param_probe"));
  const tandem::Refusal* r = refusal_for(registry, theirs);
  ASSERT_NE(r, nullptr) << all_refusals(registry);
  EXPECT_THAT(r->reason, HasSubstr("(uid 65534), neither this process's"));
  EXPECT_THAT(r->reason, HasSubstr("nor root"));
}

TEST(Refusals, SymlinkIsJudgedByItsTarget) {
  TempDir root;
  const fs::path scanned = root.subdir("scanned"), elsewhere = root.subdir("elsewhere");
  const fs::path target = root.add(fixture("handmade_ok"), {}, elsewhere, fs::perms::owner_all | fs::perms::others_all);
  const fs::path link = scanned / "libtandem-scheduler-handmade_ok.so";
  fs::create_symlink(target, link);
  root.add(fixture("param_probe"), {}, elsewhere);
  fs::create_symlink(elsewhere / "libtandem-scheduler-param_probe.so", scanned / "libtandem-scheduler-param_probe.so");
  fs::create_symlink(elsewhere / "missing.so", scanned / "libtandem-scheduler-dangling.so");
  ModuleRegistry registry;
  registry.scan({scanned});
  EXPECT_THAT(loaded(registry), ElementsAre("scheduler/param_probe"));
  const tandem::Refusal* r = refusal_for(registry, link);
  ASSERT_NE(r, nullptr) << all_refusals(registry);
  EXPECT_THAT(r->reason, HasSubstr("through its symlink target '" + target.string() + "'"));
  EXPECT_THAT(r->reason, HasSubstr("writable by every user"));
  const tandem::Refusal* d = refusal_for(registry, scanned / "libtandem-scheduler-dangling.so");
  ASSERT_NE(d, nullptr) << all_refusals(registry);
  EXPECT_THAT(d->reason, HasSubstr("dangling symlink"));
}

// ---- All at once ---------------------------------------------------------------------------------

TEST(Refusals, EveryRefusalInOneScanLeavesTheGoodModulesLoaded) {
  TempDir root;
  const fs::path dir = root.subdir("modules"), other = root.subdir("other");
  std::vector<fs::path> bad;
  for (const char* name : {"wrong_major", "newer_minor", "undersized", "short_blob", "no_entry", "unresolved"})
    bad.push_back(root.add(fixture(name), {}, dir));
  bad.push_back(root.add(fixture("handmade_ok"), "libtandem-scheduler-renamed.so", dir));
  bad.push_back(root.add(fixture("param_probe"), "libtandem-scheduler-cut.so", dir));
  fs::resize_file(bad.back(), fs::file_size(bad.back()) / 2);
  std::ofstream(dir / "libtandem-scheduler-junk.so") << "junk junk junk junk junk junk junk junk junk junk junk junk\n";
  bad.push_back(dir / "libtandem-scheduler-junk.so");
  bad.push_back(root.add(fixture("handmade_ok"), "libtandem-scheduler-handmade-ok.so", dir,
                         fs::perms::owner_all | fs::perms::group_all));
  const fs::path dup_a = root.add(fixture("param_probe"), {}, dir);
  const fs::path dup_b = root.add(fixture("param_probe"), {}, other);
  root.add(fixture("failing_factory"), {}, dir);  // loads: its factory only fails when called
  root.add(fixture("handmade_ok"), {}, other);
  root.add(warmup_lr_module(), {}, other);

  ModuleRegistry registry;
  registry.scan({dir, other});
  EXPECT_THAT(loaded(registry),
              ElementsAre("scheduler/failing_factory", "scheduler/handmade_ok", "scheduler/warmup_lr"))
      << all_refusals(registry);
  for (const fs::path& file : bad) EXPECT_NE(refusal_for(registry, file), nullptr) << file;
  expect_refused_as_duplicates(registry, dup_a, dup_b);
  EXPECT_EQ(registry.refusals().size(), bad.size() + 2) << all_refusals(registry);
}

}  // namespace

// Modules with CUDA code stay loaded (loaded_library.cpp): which files count as such.
TEST(CudaCode, ACpuModuleCarriesNone) {
  EXPECT_FALSE(tandem::loader::carries_cuda_code(loader_test::warmup_lr_module()));
  EXPECT_FALSE(tandem::loader::carries_cuda_code(loader_test::fixture("param_probe")));
}

TEST(CudaCode, WhatIsNoSharedObjectCarriesNone) {
  loader_test::TempDir dir;
  EXPECT_FALSE(tandem::loader::carries_cuda_code(dir.write("text.so", "not an ELF file")));
  EXPECT_FALSE(tandem::loader::carries_cuda_code(dir.path() / "missing.so"));
  // An ELF header whose section table lies past the end of the file.
  std::ifstream in(loader_test::warmup_lr_module(), std::ios::binary);
  std::string head(64, '\0');
  in.read(head.data(), 64);
  EXPECT_FALSE(tandem::loader::carries_cuda_code(dir.write("truncated.so", head)));
}

TEST(CudaCode, TheGpuGptModuleCarriesSome) {
  const std::filesystem::path gpt = std::filesystem::path(TANDEM_TEST_MODULE_DIR) / "libtandem-model-gpt.so";
#if TANDEM_TEST_HAS_CUDA
  EXPECT_TRUE(tandem::loader::carries_cuda_code(gpt)) << gpt;
#else
  GTEST_SKIP() << "built without CUDA: the gpt module has no device code";
#endif
}
