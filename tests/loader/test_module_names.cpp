// Canonical names, kind names and the libtandem-<kind>-<name>.so convention.
#include <gtest/gtest.h>

#include "loader/module_names.hpp"
#include "tandem/registry.hpp"

namespace {

using tandem::ModuleKind;

TEST(ModuleNames, CanonicalNameIgnoresCaseUnderscoresAndDashes) {
  EXPECT_EQ(tandem::canonical_module_name("WarmupLR"), "warmuplr");
  EXPECT_EQ(tandem::canonical_module_name("warmup_lr"), "warmuplr");
  EXPECT_EQ(tandem::canonical_module_name("warmup-lr"), "warmuplr");
  EXPECT_EQ(tandem::canonical_module_name("One_Cycle-LR"), "onecyclelr");
  EXPECT_NE(tandem::canonical_module_name("warmup_lr"), tandem::canonical_module_name("warmup_decay_lr"));
}

TEST(ModuleNames, KindNamesRoundTrip) {
  for (ModuleKind k : {ModuleKind::Stage, ModuleKind::Optimizer, ModuleKind::Scheduler, ModuleKind::Comm,
                       ModuleKind::Model}) {
    const auto parsed = tandem::parse_kind(tandem::kind_name(k));
    ASSERT_TRUE(parsed.has_value()) << tandem::kind_name(k);
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_EQ(tandem::kind_name(ModuleKind::Comm), "comm");
  EXPECT_EQ(tandem::parse_kind("Optimizer"), ModuleKind::Optimizer);
  EXPECT_FALSE(tandem::parse_kind("optimiser").has_value());
  EXPECT_FALSE(tandem::parse_kind("").has_value());
}

TEST(ModuleNames, FileNamesFollowLibtandemKindName) {
  using tandem::loader::is_module_file_name;
  using tandem::loader::parse_module_file_name;
  EXPECT_TRUE(is_module_file_name("libtandem-scheduler-warmup_lr.so"));
  EXPECT_TRUE(is_module_file_name("libtandem-junk.so"));  // scanned, then refused for its name
  EXPECT_FALSE(is_module_file_name("libtandem.so"));
  EXPECT_FALSE(is_module_file_name("libtandem-.so"));
  EXPECT_FALSE(is_module_file_name("libtandem-scheduler-warmup_lr.so.1"));
  EXPECT_FALSE(is_module_file_name("libother-scheduler-x.so"));

  const auto warmup = parse_module_file_name("libtandem-scheduler-warmup_lr.so");
  ASSERT_TRUE(warmup.has_value());
  EXPECT_EQ(warmup->kind, ModuleKind::Scheduler);
  EXPECT_EQ(warmup->name, "warmup_lr");
  const auto dashed = parse_module_file_name("libtandem-optimizer-cpu-adamw.so");
  ASSERT_TRUE(dashed.has_value());
  EXPECT_EQ(dashed->kind, ModuleKind::Optimizer);
  EXPECT_EQ(dashed->name, "cpu-adamw");
  EXPECT_FALSE(parse_module_file_name("libtandem-junk.so").has_value());
  EXPECT_FALSE(parse_module_file_name("libtandem-optimiser-adamw.so").has_value());
  EXPECT_FALSE(parse_module_file_name("libtandem-Scheduler-x.so").has_value());  // the kind is lower case on disk
  EXPECT_FALSE(parse_module_file_name("libtandem-scheduler-.so").has_value());
}

}  // namespace
