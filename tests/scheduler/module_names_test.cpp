// Each module's name selects it from the DeepSpeed type a config names: canonical matching
// (lowercase, '_' and '-' removed) must turn both into the same key. Also checks each descriptor
// is a scheduler of this ABI.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "scheduler_descriptors.hpp"
#include "tandem/registry.hpp"

namespace tandem::test {
namespace {

struct NamedModule {
  const char* deepspeed_type;  // as in "scheduler": {"type": ...}
  DescriptorFn descriptor;
};

const NamedModule kModules[] = {
    {"WarmupLR", &tandem_module_descriptor_warmup_lr},
    {"WarmupDecayLR", &tandem_module_descriptor_warmup_decay_lr},
    {"WarmupCosineLR", &tandem_module_descriptor_warmup_cosine_lr},
    {"OneCycle", &tandem_module_descriptor_one_cycle},
    {"LRRangeTest", &tandem_module_descriptor_lr_range_test},
};

TEST(SchedulerModuleNames, DeepSpeedTypeSelectsTheModule) {
  for (const NamedModule& m : kModules) {
    const tandem_module_descriptor* d = m.descriptor();
    std::string lowered = m.deepspeed_type;
    std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) { return std::tolower(c); });
    EXPECT_EQ(canonical_module_name(d->name), lowered) << d->name;
    EXPECT_EQ(canonical_module_name(d->name), canonical_module_name(m.deepspeed_type)) << d->name;
    EXPECT_EQ(d->kind, static_cast<uint32_t>(TANDEM_KIND_SCHEDULER)) << d->name;
    EXPECT_EQ(d->abi_major, TANDEM_ABI_MAJOR) << d->name;
    EXPECT_EQ(d->abi_minor, TANDEM_ABI_MINOR) << d->name;
    EXPECT_EQ(d->struct_size, sizeof(tandem_module_descriptor)) << d->name;
  }
}

}  // namespace
}  // namespace tandem::test
