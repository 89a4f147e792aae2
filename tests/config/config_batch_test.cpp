// DeepSpeed's batch triple, as its TestBatchConfig checks it (world size 2), over every subset of
// given keys. Expectations come from a reference written here from the documented rule (Python's
// floor division, then the > 0 and product checks), and from DeepSpeed's own test table.
#include <gtest/gtest.h>

#include <optional>

#include "config_test_util.hpp"
#include "tandem/config.hpp"

namespace tandem {
namespace {

struct Triple {
  int64_t train, micro, gas;
};

int64_t floor_div(int64_t a, int64_t b) {  // Python's //
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// deepspeed-semantics.md 3.1, restated.
std::optional<Triple> reference(std::optional<int64_t> t, std::optional<int64_t> m, std::optional<int64_t> g,
                                int64_t w) {
  Triple r{};
  if (t && m && g) r = {*t, *m, *g};
  else if (t && m) r = {*t, *m, floor_div(floor_div(*t, *m), w)};
  else if (t && g) r = {*t, floor_div(floor_div(*t, w), *g), *g};
  else if (m && g) r = {*m * *g * w, *m, *g};
  else if (t) r = {*t, floor_div(*t, w), 1};
  else if (m) r = {*m * w, *m, 1};
  else return std::nullopt;
  if (r.train <= 0 || r.micro <= 0 || r.gas <= 0 || r.train != r.micro * r.gas * w) return std::nullopt;
  return r;
}

std::string config_with(std::optional<int64_t> t, std::optional<int64_t> m, std::optional<int64_t> g) {
  std::string s = "{\"zero_optimization\": {\"stage\": 1}";
  if (t) s += ", \"train_batch_size\": " + std::to_string(*t);
  if (m) s += ", \"train_micro_batch_size_per_gpu\": " + std::to_string(*m);
  if (g) s += ", \"gradient_accumulation_steps\": " + std::to_string(*g);
  return s + "}";
}

// What tandem does: nullopt if it refuses.
std::optional<Triple> tandem_triple(const std::string& text, int64_t world) {
  ResolveInputs in;
  in.world_size = world;
  try {
    const ResolvedConfig r = resolve(load_config_text(text), in);
    EXPECT_EQ(r.batch.world_size, world);
    // The resolved tree holds the completed triple.
    EXPECT_EQ(r.tree.find("train_batch_size")->as_int(), r.batch.train_batch_size);
    EXPECT_EQ(r.tree.find("train_micro_batch_size_per_gpu")->as_int(), r.batch.micro_batch_per_gpu);
    EXPECT_EQ(r.tree.find("gradient_accumulation_steps")->as_int(), r.batch.gradient_accumulation_steps);
    return Triple{r.batch.train_batch_size, r.batch.micro_batch_per_gpu, r.batch.gradient_accumulation_steps};
  } catch (const ConfigError&) {
    return std::nullopt;
  }
}

struct BatchCase {
  int64_t train, micro, gas;
  bool success;  // DeepSpeed's expectation with all three given
};
void PrintTo(const BatchCase& c, std::ostream* os) {
  *os << "(" << c.train << ", " << c.micro << ", " << c.gas << ", " << (c.success ? "ok" : "fails") << ")";
}

class ConfigBatchTriple : public ::testing::TestWithParam<BatchCase> {};

TEST_P(ConfigBatchTriple, EverySubsetOfGivenKeysMatchesTheReference) {
  const BatchCase c = GetParam();
  const int64_t world = 2;
  for (int mask = 0; mask < 8; ++mask) {
    std::optional<int64_t> t, m, g;
    if (mask & 1) t = c.train;
    if (mask & 2) m = c.micro;
    if (mask & 4) g = c.gas;
    SCOPED_TRACE(config_with(t, m, g));
    const std::optional<Triple> want = reference(t, m, g, world);
    const std::optional<Triple> got = tandem_triple(config_with(t, m, g), world);
    ASSERT_EQ(got.has_value(), want.has_value());
    if (want) {
      EXPECT_EQ(got->train, want->train);
      EXPECT_EQ(got->micro, want->micro);
      EXPECT_EQ(got->gas, want->gas);
    }
  }
}

// DeepSpeed's own assertions (tests/unit/runtime/test_ds_config_dict.py, TestBatchConfig).
TEST_P(ConfigBatchTriple, DeepSpeedTestAssertions) {
  const BatchCase c = GetParam();
  const int64_t t = c.train, m = c.micro, g = c.gas;
  auto check = [&](std::optional<int64_t> tt, std::optional<int64_t> mm, std::optional<int64_t> gg) {
    SCOPED_TRACE(config_with(tt, mm, gg));
    const std::optional<Triple> got = tandem_triple(config_with(tt, mm, gg), 2);
    ASSERT_EQ(got.has_value(), c.success);
    if (c.success) {
      EXPECT_EQ(got->train, t);
      EXPECT_EQ(got->micro, m);
      EXPECT_EQ(got->gas, g);
    }
  };
  check(t, m, g);
  check(t, m, std::nullopt);
  if (c.success) {
    check(t, std::nullopt, g);
    check(std::nullopt, m, g);
    if (g == 1) {
      check(std::nullopt, m, std::nullopt);
      check(t, std::nullopt, std::nullopt);
    }
  } else {
    check(std::nullopt, std::nullopt, g);
    if (g != 1) check(t, std::nullopt, g);
  }
}

INSTANTIATE_TEST_SUITE_P(DeepSpeedTable, ConfigBatchTriple,
                         ::testing::Values(BatchCase{32, 16, 1, true}, BatchCase{32, 8, 2, true},
                                           BatchCase{33, 17, 2, false}, BatchCase{32, 18, 1, false}),
                         [](const ::testing::TestParamInfo<BatchCase>& info) {
                           const BatchCase& c = info.param;
                           return "train" + std::to_string(c.train) + "_micro" + std::to_string(c.micro) + "_gas" +
                                  std::to_string(c.gas);
                         });

TEST(ConfigBatch, MismatchNamesTheKeysAndTheArithmetic) {
  const std::string text = "{\n  \"train_batch_size\": 33,\n  \"train_micro_batch_size_per_gpu\": 17,\n"
                           "  \"gradient_accumulation_steps\": 2\n}";
  ResolveInputs in;
  in.world_size = 2;
  const ConfigError e = test::config_error_of([&] { resolve(load_config_text(text, "b.json"), in); });
  ASSERT_EQ(e.problems().size(), 1u);
  EXPECT_EQ(e.path(), "train_batch_size");
  EXPECT_EQ(test::line_col(e.position()), test::line_col(test::position_of(text, "\"train_batch_size\"")));
  EXPECT_EQ(std::string(e.what()),
            "b.json:2:3: train_batch_size: must equal train_micro_batch_size_per_gpu * gradient_accumulation_steps "
            "* world_size: 33 != 17 * 2 * 2");
}

TEST(ConfigBatch, DerivedZeroIsReportedWithItsDerivation) {
  ResolveInputs in;
  in.world_size = 2;
  const ConfigError e = test::config_error_of(
      [&] { resolve(load_config_text("{\"train_batch_size\": 32, \"train_micro_batch_size_per_gpu\": 18}"), in); });
  EXPECT_EQ(e.path(), "gradient_accumulation_steps");
  EXPECT_NE(e.reason().find("32 // 18 // 2 = 0"), std::string::npos) << e.reason();
}

TEST(ConfigBatch, NeitherTrainNorMicroIsAnErrorAtTheTop) {
  const ConfigError e =
      test::config_error_of([] { resolve(load_config_text("{\"gradient_accumulation_steps\": 2}", "g.json")); });
  EXPECT_EQ(test::line_col(e.position()), "1:1");
  EXPECT_EQ(e.path(), "");
  EXPECT_NE(e.reason().find("either train_batch_size or train_micro_batch_size_per_gpu must be given"),
            std::string::npos);
}

TEST(ConfigBatch, DerivedKeysAreRecorded) {
  ResolveInputs in;
  in.world_size = 2;
  const ResolvedConfig r =
      resolve(load_config_text("{\"train_batch_size\": 32, \"train_micro_batch_size_per_gpu\": 8}"), in);
  ASSERT_EQ(r.derived.size(), 1u);
  EXPECT_EQ(r.derived[0].path, "gradient_accumulation_steps");
  EXPECT_EQ(r.derived[0].value.as_int(), 2);
  EXPECT_EQ(r.derived[0].why,
            "derived by DeepSpeed's rule: train_batch_size // train_micro_batch_size_per_gpu // world_size = "
            "32 // 8 // 2 = 2");
}

TEST(ConfigBatch, DirectDerivation) {
  BatchKeys keys;
  keys.micro_batch_per_gpu = 4;
  const BatchDerivation d = derive_batch_triple(keys, 3, "x");
  EXPECT_EQ(d.triple.train_batch_size, 12);
  EXPECT_EQ(d.triple.gradient_accumulation_steps, 1);
  EXPECT_EQ(d.train_how, "train_micro_batch_size_per_gpu * world_size = 4 * 3 = 12");
  EXPECT_THROW(derive_batch_triple(keys, 0, "x"), std::invalid_argument);
  keys.gradient_accumulation_steps = -1;
  const ConfigError e = test::config_error_of([&] { derive_batch_triple(keys, 1, "x"); });
  EXPECT_EQ(e.path(), "gradient_accumulation_steps");
  EXPECT_NE(e.reason().find("has to be greater than 0, got -1"), std::string::npos);
}

}  // namespace
}  // namespace tandem
