// The registry: canonical lookups, get()'s messages, the search path, rescans, and clean unloading.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_support.hpp"
#include "tandem/scheduler.h"

namespace {

using namespace loader_test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using tandem::ModuleKind;
using tandem::ModuleRegistry;

TEST(Registry, NamesAreCanonical) {
  TempDir dir;
  const fs::path file = dir.add(warmup_lr_module());
  ModuleRegistry registry;
  registry.scan({dir.path()});
  ASSERT_THAT(loaded(registry), ElementsAre("scheduler/warmup_lr")) << all_refusals(registry);

  const tandem::ModuleInfo* m = registry.find(ModuleKind::Scheduler, "WarmupLR");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(registry.find(ModuleKind::Scheduler, "warmup_lr"), m);
  EXPECT_EQ(registry.find(ModuleKind::Scheduler, "warmup-lr"), m);
  EXPECT_EQ(registry.find(ModuleKind::Scheduler, "WARMUP_LR"), m);
  EXPECT_EQ(&registry.get(ModuleKind::Scheduler, "WarmupLR"), m);
  EXPECT_EQ(m->name, "warmup_lr");
  EXPECT_EQ(m->canonical_name, "warmuplr");
  EXPECT_EQ(m->file, file);
  EXPECT_EQ(m->abi_major, TANDEM_ABI_MAJOR);
  EXPECT_EQ(m->abi_minor, TANDEM_ABI_MINOR);
  EXPECT_FALSE(m->version.empty());
  EXPECT_FALSE(m->summary.empty());
  EXPECT_STREQ(registry.open(*m).name, "warmup_lr");
}

TEST(Registry, FindReturnsNullForAbsentNamesAndOtherKinds) {
  TempDir dir;
  dir.add(warmup_lr_module());
  ModuleRegistry registry;
  registry.scan({dir.path()});
  EXPECT_EQ(registry.find(ModuleKind::Scheduler, "WarmupCosineLR"), nullptr);
  EXPECT_EQ(registry.find(ModuleKind::Scheduler, "warmup"), nullptr);
  EXPECT_EQ(registry.find(ModuleKind::Optimizer, "warmup_lr"), nullptr);
  EXPECT_EQ(registry.find(ModuleKind::Scheduler, ""), nullptr);
}

TEST(Registry, GetListsWhatIsAvailableAndWhereItLooked) {
  TempDir dir;
  dir.add(warmup_lr_module());
  dir.add(fixture("param_probe"));
  ModuleRegistry registry;
  registry.scan({dir.path()});
  try {
    registry.get(ModuleKind::Scheduler, "OneCycle");
    FAIL() << "get() found a module that is not there";
  } catch (const tandem::ModuleError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no scheduler module named 'OneCycle'; available: param_probe, warmup_lr"));
    EXPECT_THAT(e.what(), HasSubstr("searched '" + dir.path().string() + "'"));
  }
  try {
    registry.get(ModuleKind::Optimizer, "AdamW");
    FAIL() << "get() found a module that is not there";
  } catch (const tandem::ModuleError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no optimizer module named 'AdamW'; no optimizer module is loaded"));
  }
}

TEST(Registry, GetPointsAtARefusedFileThatWouldHaveProvidedTheName) {
  TempDir dir;
  const fs::path file = dir.add(fixture("wrong_major"));
  ModuleRegistry registry;
  registry.scan({dir.path()});
  try {
    registry.get(ModuleKind::Scheduler, "WrongMajor");
    FAIL() << "get() found a refused module";
  } catch (const tandem::ModuleError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'" + file.string() + "' would provide it but was refused: wrong ABI version"));
  }
}

TEST(Registry, ScanSkipsMissingDirectoriesAndRefusesFiles) {
  TempDir dir;
  const fs::path file = dir.write("not-a-directory", "x");
  ModuleRegistry registry;
  registry.scan({dir.path() / "missing", file});
  EXPECT_TRUE(registry.modules().empty());
  ASSERT_EQ(registry.refusals().size(), 1u) << all_refusals(registry);
  EXPECT_EQ(registry.refusals()[0].file, file);
  EXPECT_THAT(registry.refusals()[0].reason, HasSubstr("not a directory"));
  EXPECT_THAT(registry.scanned_directories(), ElementsAre(dir.path() / "missing", file));
}

TEST(Registry, LoadFileOfAMissingFileIsARefusal) {
  TempDir dir;
  ModuleRegistry registry;
  registry.load_file(dir.path() / "libtandem-scheduler-gone.so");
  ASSERT_EQ(registry.refusals().size(), 1u);
  EXPECT_EQ(registry.refusals()[0].message(), "refused module file '" + (dir.path() / "libtandem-scheduler-gone.so").string() +
                                                  "': cannot be opened: No such file or directory");
  EXPECT_EQ(registry.refusals()[0].kind, ModuleKind::Scheduler);  // from the file name
  EXPECT_EQ(registry.refusals()[0].name, "gone");
}

TEST(Registry, RescanningAndSymlinksReadEachFileOnce) {
  TempDir root;
  const fs::path first = root.subdir("first"), second = root.subdir("second");
  const fs::path file = root.add(fixture("param_probe"), {}, first);
  fs::create_symlink(file, second / file.filename());
  ModuleRegistry registry;
  registry.scan({first, second, first});
  registry.scan({first});
  registry.load_file(file);
  EXPECT_THAT(loaded(registry), ElementsAre("scheduler/param_probe"));
  EXPECT_TRUE(registry.refusals().empty()) << all_refusals(registry);
}

TEST(Registry, ModulesAreSortedByKindAndName) {
  TempDir dir;
  dir.add(warmup_lr_module());
  dir.add(fixture("param_probe"));
  dir.add(fixture("failing_factory"));
  ModuleRegistry registry;
  registry.scan({dir.path()});
  EXPECT_THAT(loaded(registry),
              ElementsAre("scheduler/failing_factory", "scheduler/param_probe", "scheduler/warmup_lr"));
}

TEST(Registry, DefaultSearchPathIsLibtandemsModuleDirThenEnvironmentThenExtra) {
  TempDir root;
  const fs::path a = root.subdir("a"), b = root.subdir("b"), c = root.subdir("c");
  ScopedEnv env("TANDEM_MODULE_PATH", a.string() + "::" + b.string() + ":" + a.string() + "/");
  const std::vector<fs::path> path = ModuleRegistry::default_search_path({c, b, root.path() / "missing"});
  ASSERT_EQ(path.size(), 5u);
  // The build's module directory: the one next to libtandem.so, where tandem_add_module puts modules.
  EXPECT_EQ(fs::weakly_canonical(path[0]), fs::weakly_canonical(TANDEM_TEST_MODULE_DIR));
  EXPECT_EQ(path[1], a);
  EXPECT_EQ(path[2], b);
  EXPECT_EQ(path[3], c);
  EXPECT_EQ(path[4], root.path() / "missing");
}

TEST(Registry, DefaultSearchPathWithoutEnvironment) {
  ScopedEnv env("TANDEM_MODULE_PATH", "");
  const std::vector<fs::path> path = ModuleRegistry::default_search_path();
  ASSERT_EQ(path.size(), 1u);
  EXPECT_EQ(fs::weakly_canonical(path[0]), fs::weakly_canonical(TANDEM_TEST_MODULE_DIR));
}

// Clean unload: the library is mapped once an instance is made, stays mapped while the registry or an
// instance holds it, and is gone once both are.
TEST(Registry, LibrariesAreUnloadedWhenTheRegistryAndItsInstancesAreGone) {
  TempDir dir;
  const fs::path file = dir.add(fixture("param_probe"));
  ASSERT_FALSE(is_mapped(file));
  std::shared_ptr<tandem::ModuleInstance> instance;
  {
    ModuleRegistry registry;
    registry.scan({dir.path()});
    ASSERT_THAT(loaded(registry), ElementsAre("scheduler/param_probe"));
    EXPECT_FALSE(is_mapped(file));  // the scan read its descriptor in the probe process
    const tandem::json::Document params = tandem::json::parse(R"({"peak": 0.25})");
    instance = registry.create(registry.get(ModuleKind::Scheduler, "param_probe"), &params.root, params.source,
                               "unload.scheduler");
  }
  // The registry is gone; the instance keeps its library, and still works.
  EXPECT_TRUE(is_mapped(file));
  const auto& table = instance->vtable<tandem_scheduler_vtable>();
  const double base_lr = 1.0;
  const tandem_scheduler_binding binding{sizeof(tandem_scheduler_binding), 1, &base_lr, 1};
  ASSERT_EQ(table.bind(instance->handle(), &binding, nullptr), TANDEM_STATUS_OK);
  double lr = 0.0;
  tandem_scheduler_values values{sizeof(tandem_scheduler_values), 1, &lr, nullptr, nullptr, 0};
  ASSERT_EQ(table.values(instance->handle(), &values, nullptr), TANDEM_STATUS_OK);
  EXPECT_EQ(lr, 0.25);
  instance.reset();
  EXPECT_FALSE(is_mapped(file));
}

TEST(Registry, RefusedLibrariesAreNotKeptLoaded) {
  TempDir dir;
  const fs::path file = dir.add(fixture("wrong_major"));
  ModuleRegistry registry;
  registry.scan({dir.path()});
  ASSERT_EQ(registry.refusals().size(), 1u);
  EXPECT_FALSE(is_mapped(file));
}

// The real WarmupLR through the registry: params validated, defaults filled, values as DeepSpeed's
// formula gives them (linear warm-up: min + (max - min) * it / W).
TEST(Registry, CreatesTheRealWarmupLR) {
  TempDir dir;
  dir.add(warmup_lr_module());
  ModuleRegistry registry;
  registry.scan({dir.path()});
  const tandem::json::Document params = tandem::json::parse(
      R"({"warmup_min_lr": 0.001, "warmup_max_lr": 0.011, "warmup_num_steps": 10, "warmup_type": "linear"})");
  auto instance =
      registry.create(registry.get(ModuleKind::Scheduler, "WarmupLR"), &params.root, params.source, "student.scheduler");
  EXPECT_EQ(instance->label(), "student.scheduler");
  EXPECT_EQ(instance->kind(), ModuleKind::Scheduler);
  EXPECT_STREQ(instance->module_name(), "warmup_lr");
  const auto& table = instance->vtable<tandem_scheduler_vtable>();
  const double base_lr = 0.5;
  const tandem_scheduler_binding binding{sizeof(tandem_scheduler_binding), 1, &base_lr, 1};
  ASSERT_EQ(table.bind(instance->handle(), &binding, nullptr), TANDEM_STATUS_OK);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(table.step(instance->handle(), nullptr), TANDEM_STATUS_OK);
  double lr = 0.0;
  tandem_scheduler_values values{sizeof(tandem_scheduler_values), 1, &lr, nullptr, nullptr, 0};
  ASSERT_EQ(table.values(instance->handle(), &values, nullptr), TANDEM_STATUS_OK);
  EXPECT_EQ(table.iteration(instance->handle()), 3);
  EXPECT_NEAR(lr, 0.001 + (0.011 - 0.001) * 3.0 / 10.0, 1e-15);
}

}  // namespace
