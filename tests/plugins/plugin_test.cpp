// Named plugins (Accelerate's multi-plugin API in C++): which plugin is active, select(), a second
// Accelerator sharing the state, prepare() binding a config, and the errors tandem adds.
#include <gtest/gtest.h>

#include "tandem/accelerator.hpp"

namespace tandem {
namespace {

const std::string kConfigs = std::string(TANDEM_TEST_SOURCE_DIR) + "/configs/";

PluginSet seed_plugins() {
  return PluginSet{{"student", DeepSpeedPlugin::from(kConfigs + "zero2_config.json")},
                   {"teacher", DeepSpeedPlugin::from(kConfigs + "zero3_config.json")}};
}

// Every test starts with no process state, as Accelerate's tests call _reset_state.
class Plugins : public ::testing::Test {
 protected:
  void SetUp() override { State::reset(); }
  void TearDown() override { State::reset(); }
};

PrepareInputs student_inputs() {
  PrepareInputs in;
  in.hidden_size = 64;
  in.micro_batch = 4;
  in.lr = 3e-4;
  in.weight_decay = 0.1;
  in.warmup_steps = 10;
  in.total_steps = 100;
  return in;
}

TEST_F(Plugins, TheFirstPluginIsActive) {
  Accelerator accelerator(seed_plugins());
  EXPECT_EQ(accelerator.active_name(), "student");
  EXPECT_EQ(accelerator.deepspeed_plugin().config().zero_stage(), 2);
  EXPECT_EQ(State::current()->plugin_names(), (std::vector<std::string>{"student", "teacher"}));
}

TEST_F(Plugins, SelectSwitchesTheActivePlugin) {
  Accelerator accelerator(seed_plugins());
  accelerator.select("teacher");
  EXPECT_EQ(accelerator.active_name(), "teacher");
  EXPECT_EQ(accelerator.deepspeed_plugin().config().zero_stage(), 3);
  accelerator.state().select("student");
  EXPECT_EQ(accelerator.active_name(), "student");
}

TEST_F(Plugins, AnUnknownNameListsTheNamesAndKeepsTheActivePlugin) {
  Accelerator accelerator(seed_plugins());
  accelerator.select("teacher");
  try {
    accelerator.select("techer");
    FAIL() << "select of an unknown name succeeded";
  } catch (const PluginError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("\"techer\""), std::string::npos) << what;
    EXPECT_NE(what.find("\"student\", \"teacher\""), std::string::npos) << what;
  }
  EXPECT_EQ(accelerator.active_name(), "teacher");  // Accelerate would leave none active
}

TEST_F(Plugins, AnEmptySetIsAnError) {
  EXPECT_THROW(Accelerator(PluginSet{}), PluginError);
  EXPECT_EQ(State::current(), nullptr);  // and no state was left behind
}

TEST_F(Plugins, DuplicateNamesAreAnError) {
  PluginSet set;
  set.add("a", DeepSpeedPlugin::from(kConfigs + "zero2_config.json"));
  EXPECT_THROW(set.add("a", DeepSpeedPlugin::from(kConfigs + "zero3_config.json")), PluginError);
  EXPECT_THROW(set.add("", DeepSpeedPlugin::from(kConfigs + "zero3_config.json")), PluginError);
}

TEST_F(Plugins, ASecondAcceleratorWithoutPluginsSharesTheState) {
  Accelerator first(seed_plugins());
  Accelerator second;
  EXPECT_EQ(&first.state(), &second.state());
  second.select("teacher");
  EXPECT_EQ(first.active_name(), "teacher");  // one selection, seen by both
}

TEST_F(Plugins, ASecondAcceleratorWithPluginsIsAnError) {
  Accelerator first(seed_plugins());
  EXPECT_THROW(Accelerator second(seed_plugins()), PluginError);
  EXPECT_EQ(first.active_name(), "student");
}

TEST_F(Plugins, AnAcceleratorWithoutPluginsNeedsAState) {
  try {
    Accelerator accelerator;
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_NE(std::string(e.what()).find("first Accelerator"), std::string::npos) << e.what();
  }
}

TEST_F(Plugins, PrepareBindsTheActivePluginAndLaterSelectsDoNotChangeIt) {
  Accelerator accelerator(seed_plugins(), {.world_size = 2});
  Prepared student = accelerator.prepare(student_inputs());
  accelerator.select("teacher");
  EXPECT_EQ(student.plugin_name(), "student");
  EXPECT_EQ(student.config().zero.stage, 2);
  EXPECT_EQ(student.config().batch.train_batch_size, 4 * 1 * 2);
  ASSERT_NE(student.scheduler(), nullptr);
  // WarmupLR from the resolved autos: min 0, max = lr, 10 warm-up steps (log): step 1 runs at min.
  EXPECT_EQ(student.scheduler()->values().lrs[0], 0.0);

  PrepareInputs teacher_inputs;
  teacher_inputs.hidden_size = 128;
  teacher_inputs.micro_batch = 4;
  const Prepared teacher = accelerator.prepare(teacher_inputs);
  EXPECT_EQ(teacher.plugin_name(), "teacher");
  EXPECT_EQ(teacher.config().zero.stage, 3);
  EXPECT_EQ(teacher.config().zero.reduce_bucket_size, 128 * 128);
  EXPECT_EQ(teacher.scheduler(), nullptr);
  EXPECT_EQ(student.config().zero.stage, 2);  // still bound to the student's config
}

TEST_F(Plugins, PrepareByNameLeavesTheActivePluginAlone) {
  Accelerator accelerator(seed_plugins());
  PrepareInputs in;
  in.hidden_size = 32;
  in.micro_batch = 2;
  const Prepared teacher = accelerator.prepare(in, "teacher");
  EXPECT_EQ(teacher.plugin_name(), "teacher");
  EXPECT_EQ(teacher.config().zero.stage, 3);
  EXPECT_EQ(accelerator.active_name(), "student");
  EXPECT_THROW(accelerator.prepare(in, "nobody"), PluginError);
}

TEST_F(Plugins, TheSeedSequenceWithASecondAccelerator) {
  // The seed's distillation: the first plugin active, prepare the student, select the teacher,
  // prepare the teacher with no optimizer; and the same through a second Accelerator.
  Accelerator first(seed_plugins(), {.world_size = 2});
  ASSERT_EQ(first.active_name(), "student");
  Prepared student = first.prepare(student_inputs());
  Accelerator second;
  second.state().select("teacher");
  PrepareInputs teacher_inputs;
  teacher_inputs.hidden_size = 128;
  teacher_inputs.micro_batch = student.config().batch.micro_batch_per_gpu;  // as the seed copies it
  const Prepared teacher = second.prepare(teacher_inputs);
  EXPECT_EQ(teacher.config().zero.stage, 3);
  EXPECT_EQ(teacher.config().batch.micro_batch_per_gpu, 1);  // the teacher config fixes it to 1
  EXPECT_EQ(student.config().zero.optimizer_offload_device(), OffloadDevice::Cpu);
  // The student's schedule steps on: after 10 warm-up steps it reaches the lr.
  for (int i = 0; i < 12; ++i) student.scheduler()->step();
  EXPECT_DOUBLE_EQ(student.scheduler()->values().lrs[0], 3e-4);
}

TEST_F(Plugins, AnUnresolvableAutoFailsAtPrepareNamingTheKey) {
  Accelerator accelerator(seed_plugins());
  accelerator.select("teacher");
  try {
    accelerator.prepare(PrepareInputs{});  // no hidden size: reduce_bucket_size cannot be resolved
    FAIL();
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("zero3_config.json:8:9"), std::string::npos) << what;
    EXPECT_NE(what.find("reduce_bucket_size"), std::string::npos) << what;
    EXPECT_NE(what.find("hidden"), std::string::npos) << what;
  }
}

TEST_F(Plugins, EditingAnInactivePluginBeforeSelectingIt) {
  Accelerator accelerator(seed_plugins());
  accelerator.state().set_plugin_config(
      "teacher", load_config_text(R"({"zero_optimization": {"stage": 3}, "train_micro_batch_size_per_gpu": 6})"));
  accelerator.select("teacher");
  EXPECT_EQ(accelerator.prepare(PrepareInputs{}).config().batch.micro_batch_per_gpu, 6);
}

}  // namespace
}  // namespace tandem
