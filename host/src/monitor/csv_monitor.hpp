// DeepSpeed's csv_monitor files (deepspeed/monitor/csv_monitor.py): one CSV per event in the log
// directory, named after the event with '/' and ' ' made '_' (Train/Samples/lr ->
// Train_Samples_lr.csv), whose first row is "step,<the name's last part>" and then "<step>,<value>".
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/regular_file.hpp"

namespace tandem::monitor {

// "Train_Samples_lr.csv" for "Train/Samples/lr".
std::string csv_file_name(const std::string& tag);

class CsvMonitor {
 public:
  // Writes each file anew (its header, and when `keep_up_to` >= 0 the rows of the file there whose
  // step is at most that), atomically, then opens it for appending. Throws CheckpointWriteError.
  CsvMonitor(const std::filesystem::path& dir, const std::vector<std::string>& tags, int64_t keep_up_to);
  void write(const std::string& tag, int64_t step, double value);

 private:
  std::filesystem::path dir_;
  std::vector<std::string> tags_;
  std::vector<io::RegularFile> files_;
};

}  // namespace tandem::monitor
