// The host handle (LrScheduler): what it refuses and how its errors read, schedule_table's numbering,
// and the CSV that `tandem schedule` prints.
#include <gtest/gtest.h>

#include <array>
#include <charconv>
#include <sstream>

#include "reference_schedules.hpp"
#include "scheduler_test_support.hpp"

namespace tandem::test {
namespace {

constexpr DescriptorFn kWarmup = &tandem_module_descriptor_warmup_lr;
constexpr std::array<double, 1> kGroup = {0.05};

// Asserts that `body` throws ModuleError whose message contains every one of `parts`.
template <class Body>
void expect_module_error(Body&& body, std::initializer_list<std::string> parts) {
  try {
    body();
    ADD_FAILURE() << "no exception";
  } catch (const ModuleError& e) {
    for (const std::string& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "'" << part << "' not in: " << e.what();
  }
}

TEST(LrScheduler, RefusesAModuleOfAnotherKind) {
  static tandem_module_descriptor optimizer = *tandem_module_descriptor_warmup_lr();
  optimizer.kind = TANDEM_KIND_OPTIMIZER;
  // A null handle is never called: the check comes first (and destroy(nullptr) deletes nothing).
  auto instance = std::make_shared<ModuleInstance>(nullptr, &optimizer, nullptr, "x.optimizer", "libfake.so");
  expect_module_error([&] { LrScheduler s(instance); }, {"x.optimizer", "libfake.so", "not a scheduler"});
}

TEST(LrScheduler, RefusesAFunctionTableTooSmallForAbi10) {
  static tandem_scheduler_vtable small = *static_cast<const tandem_scheduler_vtable*>(
      tandem_module_descriptor_warmup_lr()->vtable);
  small.struct_size = offsetof(tandem_scheduler_vtable, state_load);  // state_load missing
  static tandem_module_descriptor truncated = *tandem_module_descriptor_warmup_lr();
  truncated.vtable = &small;
  auto instance = std::make_shared<ModuleInstance>(nullptr, &truncated, nullptr, "x.scheduler", "libfake.so");
  expect_module_error([&] { LrScheduler s(instance); }, {"x.scheduler", "libfake.so", "ABI 1.0 needs"});
}

TEST(LrScheduler, EveryCallButIterationNeedsBindFirst) {
  LrScheduler s(create_static_instance(kWarmup, "{}"));
  EXPECT_FALSE(s.bound());
  EXPECT_EQ(s.iteration(), -1);
  const std::vector<std::string> where = {kTestLabel, static_module_file(kWarmup), "before bind()"};
  expect_module_error([&] { s.step(); }, {kTestLabel, static_module_file(kWarmup), "step() before bind()"});
  expect_module_error([&] { s.values(); }, {kTestLabel, static_module_file(kWarmup), "values() before bind()"});
  expect_module_error([&] { s.save_state(); }, {kTestLabel, "save_state() before bind()"});
  expect_module_error([&] { s.load_state({}); }, {kTestLabel, "load_state() before bind()"});
  EXPECT_EQ(s.iteration(), -1);
}

TEST(LrScheduler, BindsOnceToAtLeastOneGroup) {
  LrScheduler s(create_static_instance(kWarmup, "{}"));
  expect_module_error([&] { s.bind({}, true); }, {kTestLabel, "no parameter groups"});
  s.bind(kGroup, true);
  EXPECT_TRUE(s.bound());
  EXPECT_EQ(s.group_count(), 1u);
  expect_module_error([&] { s.bind(kGroup, true); }, {kTestLabel, "bind() called twice"});
}

TEST(LrScheduler, ModuleFailureNamesInstanceFileCallAndStatus) {
  LrScheduler s(create_static_instance(kWarmup, R"({"warmup_max_lr": [0.1, 0.2]})"));
  constexpr std::array<double, 3> groups = {0.1, 0.2, 0.3};
  expect_module_error([&] { s.bind(groups, true); },
                      {std::string(kTestLabel) + " (" + static_module_file(kWarmup) + "): bind failed: ",
                       "expected 3 values for warmup_max_lr (one per parameter group), got 2", "[INVALID_ARGUMENT]"});
}

TEST(LrScheduler, MovedHandleKeepsTheSchedule) {
  LrScheduler a = make_scheduler(kWarmup, R"({"warmup_num_steps": 10})", kGroup);
  a.step();
  a.step();
  LrScheduler b = std::move(a);
  EXPECT_EQ(b.iteration(), 1);
  b.step();
  EXPECT_EQ(b.iteration(), 2);
}

TEST(ScheduleTable, ContinuesFromWhereTheScheduleIs) {
  const std::string params = R"({"warmup_num_steps": 10, "warmup_type": "linear"})";
  LrScheduler s = make_scheduler(kWarmup, params, kGroup);
  for (int k = 0; k < 5; ++k) s.step();  // iteration 4: optimizer steps 1..5 are done
  const std::vector<ScheduleRow> rows = schedule_table(s, 3);
  ASSERT_EQ(rows.size(), 3u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].step, static_cast<int64_t>(6 + i));
    EXPECT_TRUE(values_close(rows[i].values,
                             reference_warmup_lr(parse_params(params), kGroup, true, rows[i].step - 2)));
  }
  EXPECT_EQ(s.iteration(), 7);
  EXPECT_TRUE(schedule_table(s, 0).empty());
  EXPECT_THROW(schedule_table(s, -1), std::invalid_argument);
}

// Splits "a,b,c" into its fields.
std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out(1);
  for (const char ch : line) {
    if (ch == ',')
      out.emplace_back();
    else
      out.back().push_back(ch);
  }
  return out;
}

double number(const std::string& text) {
  double v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  EXPECT_TRUE(r.ec == std::errc() && r.ptr == text.data() + text.size()) << "not a number: " << text;
  return v;
}

TEST(ScheduleCsv, OneGroupWithMomentumReadsBackExactly) {
  LrScheduler s = make_scheduler(&tandem_module_descriptor_one_cycle,
                                 R"({"cycle_min_lr": 1e-4, "cycle_max_lr": 3e-3, "cycle_first_step_size": 7})", kGroup);
  const std::vector<ScheduleRow> rows = schedule_table(s, 20);
  std::ostringstream csv;
  write_schedule_csv(csv, rows);
  std::istringstream lines(csv.str());
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "step,lr,momentum");
  for (const ScheduleRow& row : rows) {
    ASSERT_TRUE(std::getline(lines, line));
    const std::vector<std::string> f = fields(line);
    ASSERT_EQ(f.size(), 3u) << line;
    EXPECT_EQ(f[0], std::to_string(row.step));
    EXPECT_EQ(number(f[1]), row.values.lrs[0]);  // shortest round-trip text: exact
    EXPECT_EQ(number(f[2]), row.values.momenta->at(0));
  }
  EXPECT_FALSE(std::getline(lines, line)) << "extra line: " << line;
}

TEST(ScheduleCsv, SeveralGroupsGetIndexedColumns) {
  constexpr std::array<double, 3> groups = {0.1, 0.02, 0.003};
  LrScheduler s = make_scheduler(&tandem_module_descriptor_warmup_cosine_lr,
                                 R"({"total_num_steps": 20, "warmup_num_steps": 5})", groups);
  std::ostringstream csv;
  write_schedule_csv(csv, schedule_table(s, 4));
  std::istringstream lines(csv.str());
  std::string header, first;
  std::getline(lines, header);
  std::getline(lines, first);
  EXPECT_EQ(header, "step,lr_0,lr_1,lr_2");
  EXPECT_EQ(first, "1,0,0.02,0.003");  // DeepSpeed's constructor sets only group 0 (to 0)
}

TEST(ScheduleCsv, NoRowsIsJustTheHeader) {
  std::ostringstream csv;
  write_schedule_csv(csv, {});
  EXPECT_EQ(csv.str(), "step,lr\n");
}

}  // namespace
}  // namespace tandem::test
