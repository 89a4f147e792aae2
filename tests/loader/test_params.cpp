// create(): a config's params validated against the module's schema, with the JSON path and
// line:column of the offending value, defaults filled, and the factory's failures reported.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_support.hpp"
#include "tandem/scheduler.h"

namespace {

using namespace loader_test;
using ::testing::HasSubstr;
using tandem::ModuleKind;
using tandem::ModuleRegistry;

// One registry with the param_probe and failing_factory fixtures, for all tests of this file.
class Params : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    probe_file_ = new fs::path(dir_->add(fixture("param_probe")));
    dir_->add(fixture("failing_factory"));
    registry_ = new ModuleRegistry();
    registry_->scan({dir_->path()});
  }
  static void TearDownTestSuite() {
    delete registry_;
    delete probe_file_;
    delete dir_;
  }

  // Creates param_probe from the "params" of `config_text` (a whole config, parsed as "cfg.json") and
  // returns what the instance says it received.
  static std::string create_probe(const std::string& config_text) {
    const tandem::json::Document doc = tandem::json::parse(config_text, "cfg.json");
    const tandem::json::Value* params = doc.root.find("scheduler")->find("params");
    auto instance = registry_->create(registry_->get(ModuleKind::Scheduler, "ParamProbe"), params, doc.source,
                                      "test.scheduler");
    const auto& table = instance->vtable<tandem_scheduler_vtable>();
    std::string state(table.state_size(instance->handle()), '\0');
    EXPECT_EQ(table.state_save(instance->handle(), state.data(), state.size(), nullptr), TANDEM_STATUS_OK);
    return state;
  }

  // The ModuleError that creating param_probe from `config_text` throws.
  static std::string probe_error(const std::string& config_text) {
    try {
      const std::string state = create_probe(config_text);
      ADD_FAILURE() << "created with " << config_text << " -> " << state;
    } catch (const tandem::ModuleError& e) {
      return e.what();
    }
    return {};
  }

  static std::string context() { return " (scheduler 'param_probe' from '" + probe_file_->string() + "')"; }

  static TempDir* dir_;
  static fs::path* probe_file_;
  static ModuleRegistry* registry_;
};
TempDir* Params::dir_ = nullptr;
fs::path* Params::probe_file_ = nullptr;
ModuleRegistry* Params::registry_ = nullptr;

TEST_F(Params, DefaultsAreFilled) {
  EXPECT_EQ(create_probe(R"({"scheduler": {"params": {"peak": 2.5}}})"),
            "instance=test.scheduler peak=2.5 enabled=1 steps=1000 mode=fast floors=0.5 label=none");
}

TEST_F(Params, NullTakesTheDefaultOfAnOptionalParameter) {
  // DeepSpeed configs write null (Python's None) for "the default", e.g. OneCycle's second step size.
  EXPECT_EQ(create_probe(R"({"scheduler": {"params": {"peak": 2.5, "steps": null, "mode": null}}})"),
            "instance=test.scheduler peak=2.5 enabled=1 steps=1000 mode=fast floors=0.5 label=none");
}

TEST_F(Params, EveryTypeIsPassedAcross) {
  EXPECT_EQ(create_probe(R"({"scheduler": {"params": {
                "peak": 3, "enabled": false, "steps": 5e8, "mode": "careful",
                "floors": [0.25, 0.75, 1], "label": "x y"}}})"),
            "instance=test.scheduler peak=3 enabled=0 steps=500000000 mode=careful floors=0.25,0.75,1 label=x y");
}

TEST_F(Params, WrongTypeNamesPathAndLineColumn) {
  const std::string text =
      "{\n"
      "  \"scheduler\": {\n"
      "    \"type\": \"ParamProbe\",\n"
      "    \"params\": {\n"
      "      \"peak\": \"high\"\n"
      "    }\n"
      "  }\n"
      "}\n";
  EXPECT_EQ(probe_error(text), "cfg.json:5:7: scheduler.params.peak: expected a number, got a string" + context());
}

TEST_F(Params, UnknownParameterListsTheAcceptedNames) {
  const std::string text = "{\"scheduler\": {\"params\": {\"peak\": 1,\n \"stepz\": 3}}}";
  EXPECT_EQ(probe_error(text), "cfg.json:2:2: scheduler.params.stepz: unknown parameter 'stepz'; param_probe accepts: "
                               "peak, enabled, steps, mode, floors, label" +
                                   context());
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": {"peak": 1, "Steps": 3}}})"),
              HasSubstr("unknown parameter 'Steps' (did you mean 'steps'?)"));
}

TEST_F(Params, RangesAndChoices) {
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": {"peak": 11}}})"),
              HasSubstr("cfg.json:1:27: scheduler.params.peak: out of range: 11 is above the maximum 10"));
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": {"peak": 1, "steps": -1}}})"),
              HasSubstr("scheduler.params.steps: out of range: -1 is below the minimum 0"));
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": {"peak": 1, "mode": "slow"}}})"),
              HasSubstr("scheduler.params.mode: \"slow\" is not one of \"fast\", \"careful\""));
}

TEST_F(Params, IntegersAcceptIntegralFloatsOnly) {
  EXPECT_THAT(create_probe(R"({"scheduler": {"params": {"peak": 1, "steps": 1e3}}})"), HasSubstr(" steps=1000 "));
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": {"peak": 1, "steps": 2.5}}})"),
              HasSubstr("scheduler.params.steps: expected an integer, got 2.5"));
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": {"peak": 1, "steps": "10"}}})"),
              HasSubstr("scheduler.params.steps: expected an integer, got a string"));
}

TEST_F(Params, PerGroupTakesANumberOrANonEmptyListOfNumbers) {
  EXPECT_THAT(create_probe(R"({"scheduler": {"params": {"peak": 1, "floors": 0.125}}})"), HasSubstr(" floors=0.125 "));
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": {"peak": 1, "floors": []}}})"),
              HasSubstr("scheduler.params.floors: expected a number or a non-empty array of numbers (one per "
                        "parameter group), got an empty array"));
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": {"peak": 1, "floors": "0.5"}}})"),
              HasSubstr("got a string"));
  // An element is named by its index, at its own position.
  EXPECT_THAT(probe_error("{\"scheduler\": {\"params\": {\"peak\": 1,\n  \"floors\": [0.5,\n    true]}}}"),
              HasSubstr("cfg.json:3:5: scheduler.params.floors[1]: expected a number, got a boolean"));
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": {"peak": 1, "floors": [0.5, 2]}}})"),
              HasSubstr("scheduler.params.floors[1]: out of range: 2 is above the maximum 1"));
}

TEST_F(Params, AutoThatWasNotResolvedIsAnError) {
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": {"peak": "auto"}}})"),
              HasSubstr("cfg.json:1:27: scheduler.params.peak: the value is still \"auto\"; \"auto\" should have "
                        "been resolved before the module is created"));
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": {"peak": 1, "floors": [0.5, "auto"]}}})"),
              HasSubstr("scheduler.params.floors[1]: the value is still \"auto\""));
}

TEST_F(Params, MissingRequiredParameter) {
  EXPECT_EQ(probe_error("{\"scheduler\": {\n  \"params\": {\"steps\": 3}}}"),
            "cfg.json:2:3: scheduler.params: missing required parameter 'peak' (the peak learning rate)" + context());
  // No params at all.
  EXPECT_EQ(probe_error(R"({"scheduler": {"params": null}})"),
            "cfg.json:1:16: scheduler.params: missing required parameter 'peak' (the peak learning rate)" + context());
}

TEST_F(Params, OtherWrongTypes) {
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": [1]}})"),
              HasSubstr("scheduler.params: expected an object of parameters, got an array"));
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": {"peak": 1, "enabled": 1}}})"),
              HasSubstr("scheduler.params.enabled: expected a boolean, got an integer"));
  EXPECT_THAT(probe_error(R"({"scheduler": {"params": {"peak": null}}})"),
              HasSubstr("scheduler.params.peak: expected a number, got null"));
}

TEST_F(Params, ValuesBuiltInCodeAreNamedByKey) {
  tandem::json::Value params = tandem::json::Value::object();
  params.set("peak", tandem::json::Value::string("high"));
  try {
    registry_->create(registry_->get(ModuleKind::Scheduler, "param_probe"), &params, "<resolved config>", "x");
    FAIL() << "created with a string peak";
  } catch (const tandem::ModuleError& e) {
    EXPECT_EQ(std::string(e.what()), "<resolved config>: peak: expected a number, got a string" + context());
  }
}

// ---- The factory ----------------------------------------------------------------------------------

TEST_F(Params, FailingFactoryIsReportedWithFileStatusAndReason) {
  const tandem::ModuleInfo& failing = registry_->get(ModuleKind::Scheduler, "failing_factory");
  try {
    registry_->create(failing, nullptr, "cfg.json", "student.scheduler");
    FAIL() << "the failing factory succeeded";
  } catch (const tandem::ModuleError& e) {
    EXPECT_EQ(std::string(e.what()), "scheduler 'failing_factory' from '" + failing.file.string() +
                                         "': creating 'student.scheduler' failed with INVALID_ARGUMENT: "
                                         "failing_factory refuses every config (it tests the host's error path)");
  }
  // The registry and its other modules carry on.
  EXPECT_THAT(create_probe(R"({"scheduler": {"params": {"peak": 1}}})"), HasSubstr("peak=1 "));
}

TEST_F(Params, LongFactoryMessageIsTruncatedToTheBuffer) {
  const tandem::ModuleInfo& failing = registry_->get(ModuleKind::Scheduler, "failing_factory");
  const tandem::json::Document params = tandem::json::parse(R"({"message_length": 5000})");
  try {
    registry_->create(failing, &params.root, params.source, "s");
    FAIL() << "the failing factory succeeded";
  } catch (const tandem::ModuleError& e) {
    const std::string what = e.what();
    const std::string expected_tail(ModuleRegistry::kFactoryErrorCapacity - 1, 'x');
    ASSERT_GE(what.size(), expected_tail.size());
    EXPECT_EQ(what.substr(what.size() - expected_tail.size()), expected_tail);
    EXPECT_THAT(what, HasSubstr("failed with INVALID_ARGUMENT: x"));
    EXPECT_EQ(what.find(std::string(ModuleRegistry::kFactoryErrorCapacity, 'x')), std::string::npos);
  }
}

}  // namespace
