// Helpers shared by the scheduler tests: instances of the static modules created through the host's
// real parameter validation, and comparison against the reference schedules.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <string>

#include "scheduler_descriptors.hpp"
#include "tandem/json.hpp"
#include "tandem/lr_scheduler.hpp"
#include "tandem/registry.hpp"

namespace tandem::test {

inline constexpr const char* kTestLabel = "test.scheduler";

// The file name a static module is reported under in messages (there is no .so behind it).
std::string static_module_file(DescriptorFn descriptor);

// Validates params_json (a JSON object) against the module's schema with the host's own validation
// and calls the module's factory, as ModuleRegistry::create does for a loaded .so. Throws ModuleError
// with the JSON path for a bad parameter, or the module's reason for a refused one.
std::shared_ptr<ModuleInstance> create_static_instance(DescriptorFn descriptor, const std::string& params_json,
                                                       const std::string& label = kTestLabel);

// Created and bound.
LrScheduler make_scheduler(DescriptorFn descriptor, const std::string& params_json,
                           std::span<const double> base_lrs, bool has_betas = true);

json::Value parse_params(const std::string& params_json);
// params_json with `key` set to `value` (added, or replaced in place).
std::string with_param(const std::string& params_json, const std::string& key, json::Value value);

// |a - b| <= 1e-12 relative (with a 1e-18 absolute floor for values at or near zero).
bool close(double a, double b);
// Every list present on one side is present on the other, element by element close().
::testing::AssertionResult values_close(const SchedulerValues& actual, const SchedulerValues& expected);

}  // namespace tandem::test
