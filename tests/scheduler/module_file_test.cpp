// The scheduler modules as a config reaches them: each DeepSpeed type name finds its
// libtandem-scheduler-<name>.so through ModuleRegistry (scan, get, create), and the loaded module
// computes exactly what its static form does, state included.
#include <gtest/gtest.h>

#include <array>

#include "scheduler_test_support.hpp"

namespace tandem::test {
namespace {

struct LoadedCase {
  const char* deepspeed_type;
  const char* file_name;
  DescriptorFn static_form;
  const char* params;
};

const LoadedCase kLoadedCases[] = {
    {"WarmupLR", "libtandem-scheduler-warmup_lr.so", &tandem_module_descriptor_warmup_lr,
     R"({"warmup_min_lr": 1e-5, "warmup_max_lr": 3e-4, "warmup_num_steps": 50})"},
    {"WarmupDecayLR", "libtandem-scheduler-warmup_decay_lr.so", &tandem_module_descriptor_warmup_decay_lr,
     R"({"total_num_steps": 150, "warmup_num_steps": 30, "warmup_type": "linear"})"},
    {"WarmupCosineLR", "libtandem-scheduler-warmup_cosine_lr.so", &tandem_module_descriptor_warmup_cosine_lr,
     R"({"total_num_steps": 150, "warmup_num_steps": 30})"},
    {"OneCycle", "libtandem-scheduler-one_cycle.so", &tandem_module_descriptor_one_cycle,
     R"({"cycle_min_lr": 1e-4, "cycle_max_lr": 1e-3, "cycle_first_step_size": 40, "decay_step_size": 10,
         "decay_lr_rate": 0.1})"},
    {"LRRangeTest", "libtandem-scheduler-lr_range_test.so", &tandem_module_descriptor_lr_range_test,
     R"({"lr_range_test_step_size": 20, "lr_range_test_staircase": true})"},
};

TEST(SchedulerModuleFiles, EachTypeLoadsFromItsFileAndMatchesTheStaticForm) {
  ModuleRegistry registry;
  registry.scan({TANDEM_TEST_MODULE_DIR});
  for (const Refusal& r : registry.refusals())
    EXPECT_EQ(r.file.filename().string().rfind("libtandem-scheduler-", 0), std::string::npos)
        << "a scheduler module was refused: " << r.file << ": " << r.reason;
  constexpr std::array<double, 2> groups = {0.002, 0.0005};
  for (const LoadedCase& c : kLoadedCases) {
    SCOPED_TRACE(c.deepspeed_type);
    const ModuleInfo& info = registry.get(ModuleKind::Scheduler, c.deepspeed_type);
    EXPECT_EQ(info.file.filename(), c.file_name);
    EXPECT_EQ(info.name, c.static_form()->name);
    const json::Document params = json::parse(c.params, "<config>");
    LrScheduler loaded(registry.create(info, &params.root, params.source, "student.scheduler"));
    loaded.bind(groups, true);
    LrScheduler linked = make_scheduler(c.static_form, c.params, groups);
    for (int k = 0; k < 200; ++k) {
      const SchedulerValues a = loaded.values(), b = linked.values();
      ASSERT_EQ(a.lrs, b.lrs) << "iteration " << loaded.iteration();
      ASSERT_EQ(a.momenta, b.momenta);
      ASSERT_EQ(a.second_betas, b.second_betas);
      loaded.step();
      linked.step();
    }
    // The state crosses between the two forms: the format is the module's, not the build's.
    LrScheduler resumed = make_scheduler(c.static_form, c.params, groups);
    resumed.load_state(loaded.save_state());
    EXPECT_EQ(resumed.iteration(), loaded.iteration());
    EXPECT_EQ(resumed.values().lrs, loaded.values().lrs);
  }
}

TEST(SchedulerModuleFiles, ErrorsNameTheInstanceAndTheFile) {
  ModuleRegistry registry;
  registry.scan({TANDEM_TEST_MODULE_DIR});
  const ModuleInfo& info = registry.get(ModuleKind::Scheduler, "WarmupLR");
  const json::Document params = json::parse(R"({"warmup_min_lr": [0.1, 0.2, 0.3]})", "<config>");
  LrScheduler s(registry.create(info, &params.root, params.source, "teacher.scheduler"));
  constexpr std::array<double, 2> groups = {0.1, 0.2};
  try {
    s.bind(groups, true);
    FAIL() << "bound 3 values to 2 groups";
  } catch (const ModuleError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("teacher.scheduler"), std::string::npos) << message;
    EXPECT_NE(message.find(info.file.string()), std::string::npos) << message;
    EXPECT_NE(message.find("expected 2 values for warmup_min_lr"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace tandem::test
