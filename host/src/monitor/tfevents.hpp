// TensorBoard event files written without TensorFlow or protobuf: each record is TFRecord-framed
// (uint64 little-endian length, masked CRC-32C of those 8 bytes, the data, masked CRC-32C of the
// data; tensorflow/core/lib/io/record_writer.cc) and holds one tensorflow.Event proto, hand-encoded
// in protobuf's wire format (tensorflow/core/util/event.proto, summary.proto):
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
//   Event   { ... SessionLog session_log = 6; }   SessionLog { SessionStatus status = 1; }  (START = 1)
// The first record is the file_version "brain.Event:2" TensorBoard looks for. Only scalars are written.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace tandem::monitor {

// CRC-32C masked as TFRecord masks it: rotated right by 15 bits plus 0xa282ead8, so that a CRC of
// data that holds CRCs is not itself a CRC of a CRC.
uint32_t masked_crc32c(std::string_view bytes);

// One TFRecord: the length, its masked CRC, `data`, the data's masked CRC.
std::string tf_record(std::string_view data);

// Event protos, encoded.
std::string file_version_event(double wall_time, std::string_view version = "brain.Event:2");
std::string scalar_event(double wall_time, int64_t step, std::string_view tag, float value);
// Event { session_log = 6: SessionLog { status = 1: START (1) } }: TensorBoard (file_version 2) then
// drops the events of earlier files whose step is `step` or later, as for a restarted job.
std::string session_start_event(double wall_time, int64_t step);

// "events.out.tfevents.<10-digit unix seconds>.<hostname>", as TensorFlow's EventsWriter names a file.
std::string event_file_name(int64_t unix_seconds, const std::string& hostname);

// An event file of this run, created in `dir` (which must exist) under event_file_name(now, host);
// a name already taken (a run that began the same second) gets ".<pid>.<n>" appended, as PyTorch's
// SummaryWriter does, so that no existing file is ever opened. Each scalar is written (and so
// readable) at once. Throws std::runtime_error with the path and the OS's reason.
class EventFileWriter {
 public:
  explicit EventFileWriter(const std::filesystem::path& dir);
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  const std::filesystem::path& path() const { return path_; }
  void add_scalar(std::string_view tag, float value, int64_t step);
  void add_session_start(int64_t step);

 private:
  void write_record(const std::string& event);
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace tandem::monitor
