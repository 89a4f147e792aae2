// The TensorBoard writer's pieces: CRC-32C against RFC 3720's test vectors (B.4), TFRecord framing
// byte by byte, and an event file read back by tests/monitor/read_tfevents.py, a reader of the
// standard library alone that checks every CRC and decodes the protos by hand.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <span>

#include "fault_support.hpp"
#include "monitor/tfevents.hpp"
#include "tandem/checkpoint_manifest.hpp"
#include "tandem/json.hpp"

namespace tandem {
namespace {

uint32_t crc_of(const std::vector<uint8_t>& bytes) {
  return crc32c(std::as_bytes(std::span(bytes.data(), bytes.size())));
}

uint32_t mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

// RFC 3720 appendix B.4: the CRC-32C of 32 zeros, 32 0xFFs, 32 ascending and 32 descending bytes,
// and an iSCSI SCSI Read (10) command PDU.
TEST(TfEvents, Crc32cMatchesRfc3720TestVectors) {
  std::vector<uint8_t> zeros(32, 0x00), ones(32, 0xFF), up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<uint8_t>(i);
    down[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(crc_of(zeros), 0x8A9136AAu);
  EXPECT_EQ(crc_of(ones), 0x62A8AB43u);
  EXPECT_EQ(crc_of(up), 0x46DD794Eu);
  EXPECT_EQ(crc_of(down), 0x113FDB5Cu);
  const std::vector<uint8_t> read10 = {0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                                       0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(crc_of(read10), 0xD9963A56u);
  // Masked as TFRecord masks it: rotated right by 15, plus 0xa282ead8.
  EXPECT_EQ(monitor::masked_crc32c(std::string(32, '\0')), mask(0x8A9136AAu));
  EXPECT_EQ(monitor::masked_crc32c(std::string(32, static_cast<char>(0xFF))), mask(0x62A8AB43u));
}

TEST(TfEvents, ARecordIsLengthItsCrcDataAndTheDataCrc) {
  const std::string data = "brain";
  const std::string r = monitor::tf_record(data);
  ASSERT_EQ(r.size(), 8 + 4 + data.size() + 4);
  uint64_t length = 0;
  uint32_t length_crc = 0, data_crc = 0;
  std::memcpy(&length, r.data(), 8);
  std::memcpy(&length_crc, r.data() + 8, 4);
  std::memcpy(&data_crc, r.data() + 12 + data.size(), 4);
  EXPECT_EQ(length, data.size());
  EXPECT_EQ(r.substr(12, data.size()), data);
  EXPECT_EQ(length_crc, monitor::masked_crc32c(r.substr(0, 8)));
  EXPECT_EQ(data_crc, monitor::masked_crc32c(data));
}

TEST(TfEvents, TheFileIsNamedAsTensorFlowNamesIt) {
  EXPECT_EQ(monitor::event_file_name(1700000000, "node7"), "events.out.tfevents.1700000000.node7");
  EXPECT_EQ(monitor::event_file_name(42, "h"), "events.out.tfevents.0000000042.h");
}

// `python3 read_tfevents.py FILE` parsed; its stderr in *err on failure.
json::Document read_back(const std::filesystem::path& file, int* rc) {
  const std::string command = std::string("python3 ") + READ_TFEVENTS + " '" + file.string() + "' 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
  *rc = WEXITSTATUS(::pclose(p));
  if (*rc != 0) {
    ADD_FAILURE() << text;
    return json::parse("{}");
  }
  return json::parse(text, "read_tfevents.py's output");
}

TEST(TfEvents, AnIndependentReaderChecksEveryCrcAndReadsTheScalars) {
  test::Scratch scratch("tfevents");
  std::filesystem::path path;
  {
    monitor::EventFileWriter w(scratch.dir());
    path = w.path();
    w.add_scalar("Train/Samples/train_loss", 5.5f, 8);
    w.add_scalar("Train/Samples/lr", 3e-4f, 8);
    w.add_session_start(9);
    w.add_scalar("Train/Samples/train_loss", -1.25f, 300000000000);  // a step past 32 bits
  }
  EXPECT_EQ(path.filename().string().rfind("events.out.tfevents.", 0), 0u) << path;
  int rc = 0;
  const json::Document d = read_back(path, &rc);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(d.root.find("file_version")->as_string(), "brain.Event:2");
  const json::Value& s = *d.root.find("scalars");
  ASSERT_EQ(s.items().size(), 3u);
  EXPECT_EQ(s.items()[0].items()[0].as_string(), "Train/Samples/train_loss");
  EXPECT_EQ(s.items()[0].items()[1].as_int(), 8);
  EXPECT_EQ(s.items()[0].items()[2].as_double(), 5.5);
  EXPECT_EQ(s.items()[1].items()[0].as_string(), "Train/Samples/lr");
  EXPECT_EQ(static_cast<float>(s.items()[1].items()[2].as_double()), 3e-4f);
  EXPECT_EQ(s.items()[2].items()[1].as_int(), 300000000000);
  EXPECT_EQ(s.items()[2].items()[2].as_double(), -1.25);
  EXPECT_GT(s.items()[0].items()[3].as_double(), 1.6e9);  // wall time: unix seconds of today
  ASSERT_EQ(d.root.find("session_starts")->items().size(), 1u);
  EXPECT_EQ(d.root.find("session_starts")->items()[0].as_int(), 9);

  // The reader is a real check: one flipped byte of the data is a CRC mismatch.
  std::string bytes = test::read_text(path);
  bytes[bytes.size() - 6] ^= 0x01;
  std::ofstream(scratch / "flipped", std::ios::binary) << bytes;
  const std::string command = std::string("python3 ") + READ_TFEVENTS + " '" + (scratch / "flipped").string() + "' 2>/dev/null >/dev/null";
  EXPECT_EQ(WEXITSTATUS(std::system(command.c_str())), 1);
}

TEST(TfEvents, ASecondWriterInTheSameSecondNeverOpensTheFirstsFile) {
  test::Scratch scratch("tfevents-two");
  monitor::EventFileWriter a(scratch.dir());
  monitor::EventFileWriter b(scratch.dir());
  EXPECT_NE(a.path(), b.path());
  a.add_scalar("x", 1, 1);
  b.add_scalar("x", 2, 1);
  int rc = 0;
  EXPECT_EQ(read_back(a.path(), &rc).root.find("scalars")->items()[0].items()[2].as_double(), 1.0);
  EXPECT_EQ(read_back(b.path(), &rc).root.find("scalars")->items()[0].items()[2].as_double(), 2.0);
}

}  // namespace
}  // namespace tandem
