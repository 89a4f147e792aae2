// Loading configs: the seed's two examples from configs/, text vs file, comments, malformed JSON
// with its exact line:column, duplicate keys, and the forms load_config() accepts.
#include <gtest/gtest.h>

#include "config_test_util.hpp"
#include "tandem/config.hpp"

namespace tandem {
namespace {

using test::position_of;

std::vector<std::string> auto_paths(const DeepSpeedConfig& c) {
  std::vector<std::string> out;
  for (const json::Value* v : c.autos()) out.push_back(v->path());
  return out;
}

TEST(ConfigLoad, SeedTeacherLoadsAsPrinted) {
  const auto file = test::repo_path("configs/zero3_config.json");
  const std::string text = test::read_text(file);
  // Verbatim: 4-space indentation and the trailing comma the seed prints.
  EXPECT_NE(text.find("        \"stage3_max_reuse_distance\": \"auto\",\n    },"), std::string::npos);
  const DeepSpeedConfig c = load_config_file(file);
  EXPECT_TRUE(c.warnings().empty());
  EXPECT_EQ(c.source(), file.string());
  EXPECT_EQ(c.zero_stage(), 3);
  EXPECT_EQ(auto_paths(c), (std::vector<std::string>{"bf16.enabled", "zero_optimization.reduce_bucket_size",
                                                       "zero_optimization.stage3_prefetch_bucket_size",
                                                       "zero_optimization.stage3_param_persistence_threshold",
                                                       "zero_optimization.stage3_max_live_parameters",
                                                       "zero_optimization.stage3_max_reuse_distance"}));
  const json::Value* live = c.find("zero_optimization.stage3_max_live_parameters");
  ASSERT_NE(live, nullptr);
  EXPECT_EQ(test::line_col(live->position()), test::line_col(position_of(text, "\"stage3_max_live_parameters\"")));
  EXPECT_EQ(c.find("zero_optimization.overlap_comm")->as_bool(), true);
  EXPECT_EQ(c.optimizer(), nullptr);
}

TEST(ConfigLoad, SeedStudentLoadsAsPrinted) {
  const auto file = test::repo_path("configs/zero2_config.json");
  const std::string text = test::read_text(file);
  EXPECT_NE(text.find("\"train_micro_batch_size_per_gpu\": \"auto\",\n}"), std::string::npos);  // trailing comma
  const DeepSpeedConfig c = load_config_file(file);
  EXPECT_TRUE(c.warnings().empty());
  EXPECT_EQ(c.zero_stage(), 2);
  EXPECT_EQ(c.find("zero_optimization.offload_optimizer.device")->as_string(), "cpu");
  EXPECT_TRUE(c.find("zero_optimization.offload_optimizer.pin_memory")->as_bool());
  ASSERT_NE(c.optimizer(), nullptr);
  EXPECT_EQ(c.optimizer()->find("type")->as_string(), "AdamW");
  // Module params are kept as written, with positions, for the registry to check.
  const json::Value* torch_adam = c.find("optimizer.params.torch_adam");
  ASSERT_NE(torch_adam, nullptr);
  EXPECT_TRUE(torch_adam->as_bool());
  EXPECT_EQ(test::line_col(torch_adam->position()), test::line_col(position_of(text, "\"torch_adam\"")));
  EXPECT_EQ(c.scheduler()->find("type")->as_string(), "WarmupLR");
  EXPECT_EQ(auto_paths(c),
            (std::vector<std::string>{"bf16.enabled", "optimizer.params.lr", "optimizer.params.weight_decay",
                                      "scheduler.params.warmup_min_lr", "scheduler.params.warmup_max_lr",
                                      "scheduler.params.warmup_num_steps", "gradient_clipping", "train_batch_size",
                                      "train_micro_batch_size_per_gpu"}));
}

TEST(ConfigLoad, TextAndFileGiveTheSameTree) {
  const auto file = test::repo_path("configs/zero2_config.json");
  const DeepSpeedConfig from_file = load_config_file(file);
  const DeepSpeedConfig from_text = load_config_text(test::read_text(file));
  EXPECT_EQ(from_text.source(), "<string>");
  EXPECT_EQ(json::to_string(from_text.tree()), json::to_string(from_file.tree()));
  EXPECT_EQ(test::line_col(from_text.find("gradient_clipping")->position()),
            test::line_col(from_file.find("gradient_clipping")->position()));
}

TEST(ConfigLoad, CommentsAreAccepted) {
  const std::string text =
      "// a student config\n"
      "{\n"
      "  /* the batch */ \"train_batch_size\": 8, // eight\n"
      "  \"zero_optimization\": {\"stage\": 1}\n"
      "}\n";
  const DeepSpeedConfig c = load_config_text(text, "commented.json");
  EXPECT_EQ(c.find("train_batch_size")->as_int(), 8);
  EXPECT_EQ(test::line_col(c.find("train_batch_size")->position()), "3:19");
  EXPECT_EQ(c.zero_stage(), 1);
}

TEST(ConfigLoad, MalformedJsonNamesLineAndColumn) {
  const std::string text = "{\n  \"train_batch_size\": 8,\n  \"gradient_clipping\": tru\n}\n";
  const ConfigError e = test::config_error_of([&] { load_config_text(text, "bad.json"); });
  // RapidJSON stops right after "tru" (where it expected 'e').
  json::Position after_tru = position_of(text, "tru\n");
  after_tru.column += 3;
  EXPECT_EQ(test::line_col(e.position()), test::line_col(after_tru));
  EXPECT_EQ(e.source(), "bad.json");
  EXPECT_EQ(std::string(e.what()), "bad.json:" + test::line_col(after_tru) + ": " + e.reason());
  EXPECT_NE(e.reason().find("Invalid value"), std::string::npos);
}

TEST(ConfigLoad, MissingCommaNamesTheNextKey) {
  const std::string text = "{\n  \"train_batch_size\": 8\n  \"gradient_clipping\": 1.0\n}";
  const ConfigError e = test::config_error_of([&] { load_config_text(text); });
  EXPECT_EQ(test::line_col(e.position()), test::line_col(position_of(text, "\"gradient_clipping\"")));
  EXPECT_NE(e.reason().find("comma"), std::string::npos);
}

TEST(ConfigLoad, DuplicateKeyIsAnErrorNamingBoth) {
  const std::string text = "{\n  \"zero_optimization\": {\n    \"stage\": 2,\n    \"stage\": 3\n  }\n}";
  const ConfigError e = test::config_error_of([&] { load_config_text(text, "dup.json"); });
  EXPECT_EQ(test::line_col(e.position()), test::line_col(position_of(text, "\"stage\"", 2)));
  EXPECT_NE(e.reason().find("duplicate key \"stage\""), std::string::npos);
  EXPECT_NE(e.reason().find("dup.json:" + test::line_col(position_of(text, "\"stage\"", 1))), std::string::npos);
}

TEST(ConfigLoad, EmptyAndNonObjectTexts) {
  const ConfigError empty = test::config_error_of([] { load_config_text("  "); });
  EXPECT_NE(empty.reason().find("empty"), std::string::npos);
  const ConfigError array = test::config_error_of([] { load_config_text("[1, 2]", "a.json"); });
  EXPECT_EQ(std::string(array.what()), "a.json:1:1: a DeepSpeed config is a JSON object, got an array");
}

TEST(ConfigLoad, MissingFileIsAConfigError) {
  const ConfigError e = test::config_error_of([] { load_config_file("/nonexistent/dir/ds.json"); });
  EXPECT_EQ(e.source(), "/nonexistent/dir/ds.json");
  EXPECT_NE(e.reason().find("no such file"), std::string::npos);
}

// A urlsafe base64 encoder written for the test (the library only decodes).
std::string urlsafe_base64(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t chunk = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) chunk |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<uint8_t>(bytes[i + 2]);
    out += alphabet[(chunk >> 18) & 63];
    out += alphabet[(chunk >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? alphabet[chunk & 63] : '=';
  }
  return out;
}

TEST(ConfigLoad, ArgumentIsAPathJsonTextOrBase64) {
  const auto file = test::repo_path("configs/zero2_config.json");
  const std::string text = test::read_text(file);
  const DeepSpeedConfig by_path = load_config(file.string());
  EXPECT_EQ(by_path.source(), file.string());
  const DeepSpeedConfig by_text = load_config(text);
  EXPECT_EQ(by_text.source(), "<string>");
  const DeepSpeedConfig by_base64 = load_config(urlsafe_base64(text));
  EXPECT_EQ(by_base64.source(), "<base64>");
  EXPECT_EQ(json::to_string(by_base64.tree()), json::to_string(by_path.tree()));
  // Without padding too, as the decoder accepts.
  std::string unpadded = urlsafe_base64(text);
  while (unpadded.back() == '=') unpadded.pop_back();
  EXPECT_EQ(json::to_string(load_config(unpadded).tree()), json::to_string(by_path.tree()));

  const ConfigError missing = test::config_error_of([] { load_config("configs/no_such_config.json"); });
  EXPECT_EQ(missing.source(), "configs/no_such_config.json");
  EXPECT_NE(missing.reason().find("no such file"), std::string::npos);
  // Malformed JSON text given as the argument keeps its parse position.
  const ConfigError bad = test::config_error_of([] { load_config("{\"train_batch_size\": }"); });
  EXPECT_EQ(test::line_col(bad.position()), "1:22");
}

}  // namespace
}  // namespace tandem
