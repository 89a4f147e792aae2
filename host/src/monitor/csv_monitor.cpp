#include "monitor/csv_monitor.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

#include "io/atomic_file.hpp"
#include "tandem/train.hpp"

namespace tandem::monitor {

namespace {

// The rows of `file` (after its header) whose step is at most `step`; a row cut short by a crash
// (no comma, or a step that is not a number) is dropped.
std::vector<std::string> rows_up_to(const std::filesystem::path& file, int64_t step) {
  std::vector<std::string> kept;
  std::ifstream in(file);
  std::string line;
  if (!std::getline(in, line)) return kept;  // the header
  while (std::getline(in, line)) {
    const size_t comma = line.find(',');
    if (comma == std::string::npos || comma + 1 == line.size()) continue;
    int64_t row_step = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + comma, row_step);
    if (ec == std::errc() && end == line.data() + comma && row_step <= step) kept.push_back(line);
  }
  return kept;
}

std::string number_text(double v) {
  char text[64];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, v);  // the shortest that reads back
  return ec == std::errc() ? std::string(text, end) : std::string("nan");
}

}  // namespace

std::string csv_file_name(const std::string& tag) {
  std::string name = tag;
  for (char& c : name)
    if (c == '/' || c == ' ') c = '_';
  return name + ".csv";
}

CsvMonitor::CsvMonitor(const std::filesystem::path& dir, const std::vector<std::string>& tags, int64_t keep_up_to)
    : dir_(dir), tags_(tags) {
  for (const std::string& tag : tags) {
    const std::filesystem::path file = dir / csv_file_name(tag);
    std::vector<std::string> rows;
    if (keep_up_to >= 0) rows = rows_up_to(file, keep_up_to);
    const std::string header = "step," + tag.substr(tag.rfind('/') + 1) + "\n";
    try {
      io::write_atomically(file, [&](io::FileSink& sink) {
        sink.write(header.data(), header.size());
        for (const std::string& r : rows) {
          sink.write(r.data(), r.size());
          sink.write("\n", 1);
        }
      });
      files_.push_back(io::RegularFile::open_for_appending(file));
    } catch (const io::FileRefusal& e) {
      throw CheckpointWriteError("cannot write the csv_monitor file " + file.string() + ": " + e.reason());
    } catch (const io::WriteError& e) {
      throw CheckpointWriteError("cannot write the csv_monitor file " + file.string() + ": " + e.what());
    }
  }
}

void CsvMonitor::write(const std::string& tag, int64_t step, double value) {
  for (size_t i = 0; i < tags_.size(); ++i) {
    if (tags_[i] != tag) continue;
    if (!files_[i].write_all(std::to_string(step) + "," + number_text(value) + "\n"))
      throw CheckpointWriteError("cannot write the csv_monitor file " + (dir_ / csv_file_name(tag)).string() + ": " +
                                 std::strerror(errno));
    return;
  }
}

}  // namespace tandem::monitor
