// DeepSpeed's monitor blocks of a config, `csv_monitor` and `tensorboard`, each
// {"enabled": false, "output_path": "", "job_name": "DeepSpeedJobName"} (DeepSpeed's defaults,
// deepspeed/monitor/config.py). Both write into os.path.join(output_path, job_name) as DeepSpeed
// does; a relative directory is taken from the run file's directory, as every path of a run file is.
#pragma once

#include <filesystem>
#include <string>

#include "tandem/json.hpp"

namespace tandem::monitor {

struct MonitorBlock {
  bool enabled = false;
  std::string output_path;
  std::string job_name = "DeepSpeedJobName";
  // output_path/job_name under `base` when relative; empty when !enabled.
  std::filesystem::path log_dir;
};

// The block `key` of a resolved config tree. Throws std::invalid_argument naming
// "<config>:<line>:<column>: <key>.<field>" for a value of the wrong type or an unknown field.
MonitorBlock read_monitor_block(const json::Value& tree, const char* key, const std::string& config_source,
                                const std::filesystem::path& base);

}  // namespace tandem::monitor
