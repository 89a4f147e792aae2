// Protobuf wire format by hand (https://protobuf.dev/programming-guides/encoding/): a field is a
// varint key (field_number << 3 | wire_type), then a varint (type 0), 8 little-endian bytes (type 1),
// a varint length and the bytes (type 2), or 4 little-endian bytes (type 5).
#include "monitor/tfevents.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <span>
#include <stdexcept>

#include "tandem/checkpoint_manifest.hpp"  // crc32c

namespace tandem::monitor {

namespace {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_key(std::string& out, uint32_t field, WireType type) { put_varint(out, (uint64_t{field} << 3) | type); }

template <typename T>
void put_little_endian(std::string& out, T v) {  // every host tandem builds for is little-endian
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  out.append(bytes, sizeof(T));
}

void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes);
}

std::string event_head(double wall_time, int64_t step) {
  std::string event;
  put_key(event, 1, kFixed64);
  put_little_endian(event, wall_time);
  if (step != 0) {  // proto3 leaves a zero out
    put_key(event, 2, kVarint);
    put_varint(event, static_cast<uint64_t>(step));
  }
  return event;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t crc = crc32c(std::as_bytes(std::span(bytes.data(), bytes.size())));
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string tf_record(std::string_view data) {
  std::string out;
  put_little_endian(out, static_cast<uint64_t>(data.size()));
  put_little_endian(out, masked_crc32c(std::string_view(out.data(), 8)));
  out.append(data);
  put_little_endian(out, masked_crc32c(data));
  return out;
}

std::string file_version_event(double wall_time, std::string_view version) {
  std::string event = event_head(wall_time, 0);
  put_bytes(event, 3, version);
  return event;
}

std::string scalar_event(double wall_time, int64_t step, std::string_view tag, float value) {
  std::string summary_value;
  put_bytes(summary_value, 1, tag);
  put_key(summary_value, 2, kFixed32);
  put_little_endian(summary_value, value);
  std::string summary;
  put_bytes(summary, 1, summary_value);
  std::string event = event_head(wall_time, step);
  put_bytes(event, 5, summary);
  return event;
}

std::string session_start_event(double wall_time, int64_t step) {
  std::string session_log;
  put_key(session_log, 1, kVarint);
  put_varint(session_log, 1);  // SessionLog.START
  std::string event = event_head(wall_time, step);
  put_bytes(event, 6, session_log);
  return event;
}

std::string event_file_name(int64_t unix_seconds, const std::string& hostname) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%010lld", static_cast<long long>(unix_seconds));
  return std::string("events.out.tfevents.") + seconds + "." + hostname;
}

EventFileWriter::EventFileWriter(const std::filesystem::path& dir) {
  const double now = unix_now();
  const std::string base = event_file_name(static_cast<int64_t>(now), host_name());
  for (int n = 0; fd_ < 0; ++n) {
    path_ = dir / (n == 0 ? base : base + "." + std::to_string(::getpid()) + "." + std::to_string(n - 1));
    // O_EXCL: a file that is there (another run's) is never opened, let alone truncated.
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd_ < 0 && (errno != EEXIST || n > 100))
      throw std::runtime_error("cannot create the TensorBoard event file " + path_.string() + ": " +
                               std::strerror(errno));
  }
  write_record(file_version_event(now));
}

EventFileWriter::~EventFileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void EventFileWriter::add_scalar(std::string_view tag, float value, int64_t step) {
  write_record(scalar_event(unix_now(), step, tag, value));
}

void EventFileWriter::add_session_start(int64_t step) { write_record(session_start_event(unix_now(), step)); }

void EventFileWriter::write_record(const std::string& event) {
  const std::string record = tf_record(event);
  size_t done = 0;
  while (done < record.size()) {
    const ssize_t n = ::write(fd_, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw std::runtime_error("cannot write the TensorBoard event file " + path_.string() + ": " +
                               (n < 0 ? std::strerror(errno) : "nothing was written"));
    done += static_cast<size_t>(n);
  }
}

}  // namespace tandem::monitor
