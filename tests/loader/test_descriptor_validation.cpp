// validate_descriptor() on descriptors built in memory: one wrong field per test, against a valid
// control, each asserting the reason.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <string>

#include "loader/abi_layout.hpp"
#include "loader/descriptor_validation.hpp"
#include "loader/param_binding.hpp"
#include "tandem/scheduler.hpp"

namespace {

using tandem::loader::validate_descriptor;
using ::testing::HasSubstr;

class Flat final : public tandem::sdk::Scheduler {
 public:
  explicit Flat(const tandem::sdk::Params&) {}
  void compute(int64_t, tandem::sdk::ScheduleValues& out) const override {
    for (double& lr : out.lrs) lr = 1.0;
  }
};

const char* const kChoices[] = {"log", "linear", nullptr};

class DescriptorValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    params_[0] = tandem::sdk::optional_param("rate", TANDEM_PARAM_FLOAT, "0.5", "a rate", 0.0, 1.0);
    params_[1] = tandem::sdk::optional_param("shape", TANDEM_PARAM_STRING, "\"log\"", "a shape", -HUGE_VAL,
                                             HUGE_VAL, kChoices);
    params_[2] = tandem::sdk::required_param("steps", TANDEM_PARAM_INT, "a count", 0.0);
    vtable_ = tandem::sdk::SchedulerAdapter<Flat>::vtable;
    d_ = tandem_module_descriptor{};
    d_.struct_size = sizeof(tandem_module_descriptor);
    d_.abi_major = TANDEM_ABI_MAJOR;
    d_.abi_minor = TANDEM_ABI_MINOR;
    d_.kind = TANDEM_KIND_SCHEDULER;
    d_.name = "flat_lr";
    d_.version = "1.0.0";
    d_.summary = "flat";
    d_.params = params_;
    d_.param_count = 3;
    d_.create = &tandem::sdk::InstanceFactory<Flat>::create;
    d_.destroy = &tandem::sdk::InstanceFactory<Flat>::destroy;
    d_.vtable = &vtable_;
  }

  std::string reason() const {
    const auto r = validate_descriptor(&d_);
    return r ? *r : std::string("<accepted>");
  }

  tandem_param_spec params_[3];
  tandem_scheduler_vtable vtable_{};
  tandem_module_descriptor d_{};
};

TEST_F(DescriptorValidation, ValidDescriptorIsAccepted) { EXPECT_EQ(reason(), "<accepted>"); }

TEST_F(DescriptorValidation, NullDescriptor) {
  const auto r = validate_descriptor(nullptr);
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(*r, HasSubstr("returned no descriptor"));
}

TEST_F(DescriptorValidation, TooSmallForTheVersionIsRefusedBeforeReadingIt) {
  // Only the 4-byte struct_size is valid memory here: the version must not be read.
  const uint32_t blob = 4;
  const auto r = validate_descriptor(reinterpret_cast<const tandem_module_descriptor*>(&blob));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, "descriptor is 4 bytes, at least 8 expected (struct_size, abi_major, abi_minor)");
}

TEST_F(DescriptorValidation, MajorVersionDiffersNamesBothVersions) {
  d_.abi_major = TANDEM_ABI_MAJOR + 1;
  d_.abi_minor = 3;
  const std::string module = std::to_string(TANDEM_ABI_MAJOR + 1) + ".3";
  const std::string host = std::to_string(TANDEM_ABI_MAJOR) + "." + std::to_string(TANDEM_ABI_MINOR);
  EXPECT_THAT(reason(), HasSubstr("built for tandem ABI " + module + ", this host supports ABI " + host));
  EXPECT_THAT(reason(), HasSubstr("major version"));
}

TEST_F(DescriptorValidation, VersionIsCheckedBeforeTheSize) {
  // A descriptor of another major may have any layout beyond its header: report the version.
  d_.abi_major = TANDEM_ABI_MAJOR + 1;
  d_.struct_size = 8;
  EXPECT_THAT(reason(), HasSubstr("wrong ABI version"));
}

TEST_F(DescriptorValidation, NewerMinorIsRefusedOlderAccepted) {
  d_.abi_minor = TANDEM_ABI_MINOR + 1;
  EXPECT_THAT(reason(), HasSubstr("ABI version too new: the module was built for tandem ABI " +
                                  std::to_string(TANDEM_ABI_MAJOR) + "." + std::to_string(TANDEM_ABI_MINOR + 1) +
                                  ", this host supports ABI " + std::to_string(TANDEM_ABI_MAJOR) + "." +
                                  std::to_string(TANDEM_ABI_MINOR)));
  // A host of a later minor accepts a module of an earlier one.
  d_.abi_minor = 2;
  EXPECT_FALSE(validate_descriptor(&d_, TANDEM_ABI_MAJOR, 5).has_value());
}

TEST_F(DescriptorValidation, UndersizedDescriptor) {
  d_.struct_size = tandem::loader::kDescriptorSize_1_0 - 1;
  EXPECT_THAT(reason(), HasSubstr("descriptor is " + std::to_string(tandem::loader::kDescriptorSize_1_0 - 1) +
                                  " bytes, at least " + std::to_string(tandem::loader::kDescriptorSize_1_0) +
                                  " expected"));
  EXPECT_EQ(tandem::loader::kDescriptorSize_1_0, offsetof(tandem_module_descriptor, vtable) + sizeof(void*));
}

TEST_F(DescriptorValidation, Kind) {
  d_.kind = 0;
  EXPECT_THAT(reason(), HasSubstr("kind 0 is not a tandem_kind"));
  d_.kind = 6;
  EXPECT_THAT(reason(), HasSubstr("kind 6 is not a tandem_kind"));
}

TEST_F(DescriptorValidation, Names) {
  d_.name = nullptr;
  EXPECT_EQ(reason(), "module name is null");
  d_.name = "";
  EXPECT_EQ(reason(), "module name is empty");
  d_.name = "warmup lr";
  EXPECT_THAT(reason(), HasSubstr("has the character ' '"));
  d_.name = "../evil";
  EXPECT_THAT(reason(), HasSubstr("has the character '.'"));
  const std::string long_name(200, 'a');
  d_.name = long_name.c_str();
  EXPECT_THAT(reason(), HasSubstr("longer than 128"));
  d_.name = "Warmup-LR_2";
  EXPECT_EQ(reason(), "<accepted>");
}

TEST_F(DescriptorValidation, VersionAndSummary) {
  d_.version = nullptr;
  EXPECT_EQ(reason(), "version is null");
  d_.version = "1.0.0";
  d_.summary = nullptr;
  EXPECT_EQ(reason(), "summary is null");
}

TEST_F(DescriptorValidation, ParameterTable) {
  d_.params = nullptr;
  EXPECT_EQ(reason(), "param_count is 3 but the parameter table (params) is null");
  d_.param_count = 0;
  EXPECT_EQ(reason(), "<accepted>");  // no parameters, no table
}

TEST_F(DescriptorValidation, ParameterSpecSize) {
  for (auto& p : params_) p.struct_size = 8;
  EXPECT_THAT(reason(), HasSubstr("parameter spec is 8 bytes, at least " +
                                  std::to_string(tandem::loader::kParamSpecSize_1_0) + " expected"));
  params_[0].struct_size = sizeof(tandem_param_spec);
  EXPECT_THAT(reason(), HasSubstr("parameter #1: spec is 8 bytes, but the table's first is"));
}

TEST_F(DescriptorValidation, ParameterSpecFields) {
  params_[1].name = "bad name";
  EXPECT_THAT(reason(), HasSubstr("parameter #1's name \"bad name\" has the character ' '"));
  params_[1].name = "shape";
  params_[1].type = 9;
  EXPECT_THAT(reason(), HasSubstr("parameter 'shape' has type 9"));
  params_[1].type = TANDEM_PARAM_STRING;
  params_[0].min = 2.0;
  EXPECT_THAT(reason(), HasSubstr("parameter 'rate' has bounds [2, 1]"));
  params_[0].min = 0.0;
  params_[0].choices = kChoices;
  EXPECT_THAT(reason(), HasSubstr("parameter 'rate' lists choices but is not a string parameter"));
  params_[0].choices = nullptr;
  params_[1].name = "rate";
  EXPECT_THAT(reason(), HasSubstr("parameter 'rate' is declared twice (#0 and #1)"));
}

TEST_F(DescriptorValidation, RequiredAndDefaults) {
  params_[2].default_json = "5";
  EXPECT_THAT(reason(), HasSubstr("parameter 'steps' is required but has a default (5)"));
  params_[2].default_json = nullptr;
  params_[0].default_json = nullptr;
  EXPECT_THAT(reason(), HasSubstr("parameter 'rate' is optional but has no default"));
}

TEST_F(DescriptorValidation, DefaultsAreParsedAndCheckedAgainstTheirSpec) {
  params_[0].default_json = "0.5.1";
  EXPECT_THAT(reason(), HasSubstr("parameter 'rate' has a default that is not JSON: '0.5.1'"));
  params_[0].default_json = "\"half\"";
  EXPECT_THAT(reason(), HasSubstr("parameter 'rate' has a default that its own schema refuses: '\"half\"': "
                                  "expected a number, got a string"));
  params_[0].default_json = "1.5";
  EXPECT_THAT(reason(), HasSubstr("out of range: 1.5 is above the maximum 1"));
  params_[0].default_json = "0.5";
  params_[1].default_json = "\"cosine\"";
  EXPECT_THAT(reason(), HasSubstr("\"cosine\" is not one of \"log\", \"linear\""));
}

TEST_F(DescriptorValidation, FactoryAndFunctionTable) {
  d_.create = nullptr;
  EXPECT_EQ(reason(), "create (the factory) is null");
  d_.create = &tandem::sdk::InstanceFactory<Flat>::create;
  d_.destroy = nullptr;
  EXPECT_EQ(reason(), "destroy is null");
  d_.destroy = &tandem::sdk::InstanceFactory<Flat>::destroy;
  d_.vtable = nullptr;
  EXPECT_EQ(reason(), "the scheduler function table (vtable) is null");
  d_.vtable = &vtable_;
  vtable_.struct_size = 16;
  EXPECT_EQ(reason(), "scheduler function table is 16 bytes, at least " +
                          std::to_string(tandem::loader::kSchedulerVtableSize_1_0) + " expected (ABI 1.0)");
  vtable_.struct_size = sizeof(tandem_scheduler_vtable);
  vtable_.values = nullptr;
  EXPECT_EQ(reason(), "scheduler function table entry 'values' is null");
}

TEST_F(DescriptorValidation, EachKindIsCheckedAgainstItsOwnTable) {
  // A scheduler's table is too small for a stage (10 entries against 7).
  d_.kind = TANDEM_KIND_STAGE;
  EXPECT_THAT(reason(), HasSubstr("stage function table is " + std::to_string(sizeof(tandem_scheduler_vtable)) +
                                  " bytes, at least " + std::to_string(tandem::loader::kStageVtableSize_1_0)));
}

// A table of specs whose elements are larger than this host's tandem_param_spec (as a table built
// against a later layout would be) is read with the elements' own stride.
TEST_F(DescriptorValidation, ParameterTableIsReadWithItsOwnStride) {
  struct WideSpec {
    tandem_param_spec spec;
    double appended_field;
  };
  WideSpec wide[2] = {{params_[0], 1.0}, {params_[2], 2.0}};
  for (WideSpec& w : wide) w.spec.struct_size = sizeof(WideSpec);
  d_.params = &wide[0].spec;
  d_.param_count = 2;
  EXPECT_EQ(reason(), "<accepted>");
  EXPECT_STREQ(tandem::loader::param_spec_at(d_, 1).name, "steps");
  wide[1].spec.name = "bad name";
  EXPECT_THAT(reason(), HasSubstr("parameter #1's name \"bad name\""));
}

}  // namespace
