// Writing: the exact bytes of a small file (built by hand here), round trips through the reader, the
// deterministic layout, and the atomic replacement (no temporary left, old file intact on failure).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <cmath>

#include "safetensors_bytes.hpp"
#include "tandem/safetensors.hpp"

namespace st = tandem::safetensors;
using tandem_test::append_le;
using tandem_test::file_bytes;
using tandem_test::ScratchDir;

TEST(SafetensorsWrite, ExactBytesOfASmallFile) {
  const std::vector<float> b = {1.0f, -2.0f};
  const std::vector<uint16_t> a = {0x3F80};
  const std::vector<st::TensorData> tensors = {st::bf16_tensor("a", {1}, a), st::f32_tensor("b", {2}, b)};
  const std::vector<uint8_t> bytes = st::serialize(tensors, {{"format", "pt"}});

  // Metadata first; then F32 before BF16 (larger elements first), each with its offsets; spaces up to
  // a multiple of 8.
  std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("a":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]}})";
  while (header.size() % 8 != 0) header += ' ';
  std::vector<uint8_t> data;
  append_le<float>(data, 1.0f);
  append_le<float>(data, -2.0f);
  append_le<uint16_t>(data, 0x3F80);
  EXPECT_EQ(bytes, file_bytes(header, data));
}

TEST(SafetensorsWrite, RoundTripThroughTheReader) {
  ScratchDir dir;
  std::vector<float> wte(5 * 3), ln(3), scalar = {42.5f};
  for (size_t i = 0; i < wte.size(); ++i) wte[i] = std::sin(static_cast<float>(i)) * 1000.0f;
  for (size_t i = 0; i < ln.size(); ++i) ln[i] = 1.0f + 0.001f * static_cast<float>(i);
  const std::vector<uint16_t> ln_bf16 = st::to_bf16(ln);
  const std::vector<int64_t> steps = {7, -1};
  const std::vector<st::TensorData> tensors = {
      st::f32_tensor("transformer.wte.weight", {5, 3}, wte),
      st::bf16_tensor("transformer.ln_f.weight", {3}, ln_bf16),
      st::f32_tensor("scale", {}, scalar),
      {"steps", st::Dtype::I64, {2}, {reinterpret_cast<const uint8_t*>(steps.data()), 16}},
      st::f32_tensor("empty", {0, 4}, std::span<const float>()),
  };
  const st::Metadata meta = {{"format", "pt"}, {"tandem.step", "100"}};
  st::write(dir / "model.safetensors", tensors, meta);

  const st::File f = st::File::open(dir / "model.safetensors");
  EXPECT_EQ(f.metadata(), meta);
  EXPECT_EQ(f.tensors().size(), 5u);
  EXPECT_EQ(f.read_f32("transformer.wte.weight"), wte);
  EXPECT_EQ(f.expect("transformer.wte.weight", {5, 3}).dtype, st::Dtype::F32);
  const std::vector<float> ln_back = f.read_f32("ln_f.weight");  // the short form resolves too
  for (size_t i = 0; i < ln.size(); ++i) {
    EXPECT_EQ(ln_back[i], st::bf16_to_f32(ln_bf16[i]));
    EXPECT_NEAR(ln_back[i], ln[i], std::ldexp(ln[i], -8));  // bf16 keeps 8 significant bits
  }
  EXPECT_EQ(f.read_f32("scale"), scalar);
  EXPECT_EQ(f.get("scale").shape, std::vector<int64_t>{});
  const auto raw = f.bytes(f.get("steps"));
  int64_t back[2];
  std::memcpy(back, raw.data(), 16);
  EXPECT_EQ(back[0], 7);
  EXPECT_EQ(back[1], -1);
  EXPECT_EQ(f.get("empty").numel(), 0u);

  // Alignment: the data section starts at a multiple of 8 and every tensor at a multiple of its size.
  const std::vector<uint8_t> bytes = tandem_test::read_file(dir / "model.safetensors");
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  EXPECT_EQ((8 + header_len) % 8, 0u);
  for (const st::TensorInfo& t : f.tensors()) EXPECT_EQ(t.begin % st::dtype_size(t.dtype), 0u) << t.name;
  EXPECT_EQ(dir.list(), std::vector<std::string>{"model.safetensors"});  // no temporary left
}

TEST(SafetensorsWrite, LayoutDoesNotDependOnTheInputOrder) {
  const std::vector<float> x = {1, 2, 3}, y = {4};
  const std::vector<uint16_t> z = {1, 2, 3};
  const std::vector<st::TensorData> one = {st::f32_tensor("x", {3}, x), st::f32_tensor("y", {1}, y),
                                           st::bf16_tensor("z", {3}, z)};
  const std::vector<st::TensorData> two = {one[2], one[1], one[0]};
  EXPECT_EQ(st::serialize(one), st::serialize(two));
}

TEST(SafetensorsWrite, RefusesBadTensorsBeforeTouchingTheFile) {
  ScratchDir dir;
  const std::vector<float> v = {1, 2, 3};
  auto refused = [&](std::vector<st::TensorData> tensors, const std::string& tensor, const std::string& reason,
                     st::Metadata meta = {}) {
    try {
      st::write(dir / "m.safetensors", tensors, meta);
      ADD_FAILURE() << "accepted: " << reason;
    } catch (const st::Error& e) {
      EXPECT_EQ(e.file(), (dir / "m.safetensors").string());
      EXPECT_EQ(e.tensor(), tensor);
      EXPECT_NE(e.reason().find(reason), std::string::npos) << e.reason();
    }
    EXPECT_TRUE(dir.list().empty());
  };
  refused({st::f32_tensor("w", {2, 2}, v)}, "w", "shape [2, 2] of F32 needs 4 x 4 bytes, 12 given");
  refused({st::f32_tensor("w", {-3}, v)}, "w", "negative dimension");
  refused({st::f32_tensor("w", {3}, v), st::f32_tensor("w", {3}, v)}, "w", "two tensors have this name");
  refused({st::f32_tensor("", {3}, v)}, "", "empty name");
  refused({st::f32_tensor("__metadata__", {3}, v)}, "__metadata__", "reserved");
  refused({st::f32_tensor("w", {3}, v)}, "", "metadata key \"k\" given twice", {{"k", "1"}, {"k", "2"}});
}

namespace {

// Writes a recognisable file at `path` for the failure tests to check it survives.
std::vector<uint8_t> write_original(const std::filesystem::path& path) {
  const std::vector<float> v = {9, 9};
  const std::vector<st::TensorData> t = {st::f32_tensor("old", {2}, v)};
  st::write(path, t);
  return tandem_test::read_file(path);
}

}  // namespace

TEST(SafetensorsWrite, ReplacesAnExistingFileAtomically) {
  ScratchDir dir;
  write_original(dir / "m.safetensors");
  const std::vector<float> v = {1, 2, 3};
  const std::vector<st::TensorData> t = {st::f32_tensor("new", {3}, v)};
  st::write(dir / "m.safetensors", t);
  const st::File f = st::File::open(dir / "m.safetensors");
  EXPECT_EQ(f.find("old"), nullptr);
  EXPECT_EQ(f.read_f32("new"), v);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"m.safetensors"});
}

TEST(SafetensorsWrite, ParentIsARegularFile) {
  ScratchDir dir;
  tandem_test::write_file(dir / "not_a_dir", {1, 2, 3});
  const std::vector<float> v = {1};
  const std::vector<st::TensorData> t = {st::f32_tensor("w", {1}, v)};
  try {
    st::write(dir / "not_a_dir" / "m.safetensors", t);
    FAIL() << "no error";
  } catch (const st::Error& e) {
    EXPECT_NE(e.reason().find("cannot create the temporary file"), std::string::npos) << e.what();
    EXPECT_NE(e.reason().find("Not a directory"), std::string::npos) << e.what();
  }
  EXPECT_EQ(tandem_test::read_file(dir / "not_a_dir"), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(dir.list(), std::vector<std::string>{"not_a_dir"});
}

TEST(SafetensorsWrite, RenameFailureLeavesNoTemporaryAndTheTargetIntact) {
  ScratchDir dir;
  // The target is a non-empty directory: the temporary file is written and flushed, then rename fails.
  std::filesystem::create_directory(dir / "m.safetensors");
  tandem_test::write_file(dir / "m.safetensors" / "keep", {7});
  const std::vector<float> v = {1};
  const std::vector<st::TensorData> t = {st::f32_tensor("w", {1}, v)};
  try {
    st::write(dir / "m.safetensors", t);
    FAIL() << "no error";
  } catch (const st::Error& e) {
    EXPECT_NE(e.reason().find("cannot rename"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dir.list(), std::vector<std::string>{"m.safetensors"});
  EXPECT_EQ(tandem_test::read_file(dir / "m.safetensors" / "keep"), std::vector<uint8_t>{7});
}

TEST(SafetensorsWrite, FailureMidWriteKeepsTheOldFile) {
  ScratchDir dir;
  const std::vector<uint8_t> original = write_original(dir / "m.safetensors");
  // A file size limit makes write(2) fail with EFBIG part way through (root included).
  std::vector<float> big(64 * 1024, 1.0f);
  const std::vector<st::TensorData> t = {st::f32_tensor("w", {static_cast<int64_t>(big.size())}, big)};
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  rlimit limited = saved;
  limited.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::string reason;
  try {
    st::write(dir / "m.safetensors", t);
  } catch (const st::Error& e) {
    reason = e.reason();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, old_handler);
  EXPECT_NE(reason.find("cannot write"), std::string::npos) << reason;
  EXPECT_EQ(tandem_test::read_file(dir / "m.safetensors"), original);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"m.safetensors"});
}
