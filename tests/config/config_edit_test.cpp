// DeepSpeedConfig::with: a copy with one value set, validated again, the original untouched.
#include <gtest/gtest.h>

#include "tandem/config.hpp"

namespace tandem {
namespace {

const char* kText = R"({
  "train_micro_batch_size_per_gpu": "auto",
  "zero_optimization": {"stage": 2}
})";

TEST(ConfigEdit, ReplacesAValueKeepingWhereTheOldOneWasAndLeavesTheOriginalAlone) {
  const DeepSpeedConfig config = load_config_text(kText, "edit.json");
  const DeepSpeedConfig edited = config.with("train_micro_batch_size_per_gpu", json::Value::integer(6));
  ASSERT_NE(edited.find("train_micro_batch_size_per_gpu"), nullptr);
  EXPECT_EQ(edited.find("train_micro_batch_size_per_gpu")->as_int(), 6);
  EXPECT_EQ(edited.find("train_micro_batch_size_per_gpu")->position().line, 2u);  // where the "auto" was
  EXPECT_EQ(edited.source(), "edit.json");
  EXPECT_TRUE(config.find("train_micro_batch_size_per_gpu")->is_auto());
  EXPECT_EQ(edited.autos().size(), 0u);
}

TEST(ConfigEdit, AddsMissingParentObjects) {
  const DeepSpeedConfig edited =
      load_config_text(kText).with("zero_optimization.offload_optimizer.device", json::Value::string("cpu"));
  const json::Value* device = edited.find("zero_optimization.offload_optimizer.device");
  ASSERT_NE(device, nullptr);
  EXPECT_EQ(device->as_string(), "cpu");
  EXPECT_EQ(device->path(), "zero_optimization.offload_optimizer.device");
  EXPECT_EQ(edited.zero_stage(), 2);
}

TEST(ConfigEdit, AValueTheSchemaRefusesIsAConfigErrorNamingThePath) {
  try {
    load_config_text(kText, "edit.json").with("zero_optimization.stage", json::Value::integer(7));
    FAIL() << "stage 7 was accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("edit.json"), std::string::npos) << what;
    EXPECT_NE(what.find("zero_optimization.stage"), std::string::npos) << what;
  }
}

TEST(ConfigEdit, APathThroughAValueThatIsNotAnObjectIsRefused) {
  EXPECT_THROW(load_config_text(kText).with("zero_optimization.stage.x", json::Value::integer(1)),
               std::invalid_argument);
  EXPECT_THROW(load_config_text(kText).with("", json::Value::integer(1)), std::invalid_argument);
  EXPECT_THROW(load_config_text(kText).with("zero_optimization..stage", json::Value::integer(1)),
               std::invalid_argument);
}

}  // namespace
}  // namespace tandem
