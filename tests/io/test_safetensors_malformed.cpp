// Every way a safetensors file can be wrong is refused with the file, the tensor (when one is at fault)
// and the reason; and no byte sequence makes the reader fail in any other way.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "safetensors_bytes.hpp"
#include "tandem/safetensors.hpp"

namespace st = tandem::safetensors;
using tandem_test::append_le;
using tandem_test::file_bytes;

namespace {

// Parses `bytes`, expecting an Error on `tensor` whose reason contains `reason`.
void expect_refused(const std::vector<uint8_t>& bytes, const std::string& tensor, const std::string& reason) {
  try {
    st::File::parse(bytes, "bad.safetensors");
    ADD_FAILURE() << "accepted; expected: " << reason;
  } catch (const st::Error& e) {
    EXPECT_EQ(e.file(), "bad.safetensors");
    EXPECT_EQ(e.tensor(), tensor) << e.what();
    EXPECT_NE(e.reason().find(reason), std::string::npos) << "reason: " << e.reason() << "\nexpected: " << reason;
  }
}

std::vector<uint8_t> zeros(size_t n) { return std::vector<uint8_t>(n, 0); }

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

}  // namespace

TEST(SafetensorsMalformed, TooShortForTheLength) {
  expect_refused({}, "", "empty file (0 bytes)");
  expect_refused({1, 0, 0, 0, 0}, "", "truncated: 5 bytes, shorter than the 8-byte header length");
}

TEST(SafetensorsMalformed, HeaderLengthAgainstTheFile) {
  expect_refused(file_bytes(0, "", {}), "", "header length is 0");
  expect_refused(file_bytes(100, "{}", {}), "", "header length 100 runs past the end of the file (2 bytes follow");
  expect_refused(file_bytes(UINT64_MAX, "{}", {}), "", "header length 18446744073709551615 runs past the end");
  // A length within the file but beyond the format's limit: a 100 MB + 1 file is too slow for a unit
  // test, so the limit is checked with its own constant against a header that is just over it.
  std::string big(st::kMaxHeaderBytes + 1, ' ');
  big[0] = '{';
  big[1] = '}';
  expect_refused(file_bytes(big, {}), "", "exceeds the limit of 100000000 bytes");
}

TEST(SafetensorsMalformed, HeaderNotJsonOrNotAnObject) {
  expect_refused(file_bytes("{not json}", {}), "", "header is not valid JSON (line 1, column 2)");
  expect_refused(file_bytes("[1, 2]", {}), "", "header does not start with '{'");
  expect_refused(file_bytes("  {}", {}), "", "header does not start with '{'");
  expect_refused(file_bytes("{} x", {}), "", "header is not valid JSON");
  expect_refused(file_bytes("{\"a\":", {}), "", "header is not valid JSON");
  expect_refused(file_bytes(std::string("{\"a\0\":1}", 8), {}), "", "NUL byte");
  expect_refused(file_bytes("{\"\xff\":1}", {}), "", "header is not valid JSON");  // not UTF-8
  expect_refused(file_bytes(R"({"a":1})", {}), "a", "entry is an integer, not an object");
}

TEST(SafetensorsMalformed, NotPlainJson) {
  expect_refused(file_bytes("{/* c */}", {}), "", "comment at byte 1 of the header");
  expect_refused(file_bytes("{" + entry("a", "F32", "[1,]", "[0,4]") + "}", zeros(4)), "", "trailing comma before ']'");
  expect_refused(file_bytes("{" + entry("a", "F32", "[1]", "[0,4]") + ",}", zeros(4)), "", "trailing comma before '}'");
  expect_refused(file_bytes(R"({"a":{"shape":[[1]]}})", {}), "", "nests deeper than 3 levels");
  // "[[[[..." deep enough to threaten the parser's stack is refused by the scan, before parsing.
  expect_refused(file_bytes("{\"a\":" + std::string(100000, '['), {}), "", "nests deeper than 3 levels");
  // More values than the tree may hold: refused before the tree is built.
  std::string many = "{\"a\":{\"dtype\":\"U8\",\"shape\":[";
  for (uint64_t i = 0; i <= st::kMaxHeaderValues; ++i) many += "1,";
  many += "1],\"data_offsets\":[0,1]}}";
  expect_refused(file_bytes(many, zeros(1)), "", "more than 1048576 JSON values");
}

TEST(SafetensorsMalformed, DuplicateName) {
  expect_refused(file_bytes("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("a", "F32", "[1]", "[4,8]") + "}",
                            zeros(8)),
                 "", "duplicate key \"a\"");
}

TEST(SafetensorsMalformed, EntryKeysAndTypes) {
  expect_refused(file_bytes(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", zeros(4)), "a", "no \"dtype\"");
  expect_refused(file_bytes(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", zeros(4)), "a", "no \"shape\"");
  expect_refused(file_bytes(R"({"a":{"dtype":"F32","shape":[1]}})", zeros(4)), "a", "no \"data_offsets\"");
  expect_refused(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})", zeros(4)), "a",
                 "unknown key \"x\"");
  expect_refused(file_bytes(R"({"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", zeros(4)), "a",
                 "\"dtype\" is an integer, not a string");
  expect_refused(file_bytes(R"({"a":{"dtype":"F32","shape":4,"data_offsets":[0,4]}})", zeros(4)), "a",
                 "\"shape\" is an integer, not an array");
  expect_refused(file_bytes("{" + entry("a", "F32", "[1]", "[0,4,8]") + "}", zeros(4)), "a",
                 "\"data_offsets\" is [0,4,8], not [begin, end]");
  expect_refused(file_bytes("{" + entry("a", "F32", "[1]", "{}") + "}", zeros(4)), "a", "not [begin, end]");
  expect_refused(file_bytes("{" + entry("a", "F32", "[1.5]", "[0,4]") + "}", zeros(4)), "a",
                 "shape[0] is a number (1.5), not an integer");
  expect_refused(file_bytes("{" + entry("a", "F32", "[1]", "[0,4.0]") + "}", zeros(4)), "a",
                 "data_offsets[1] is a number (4.0), not an integer");
  expect_refused(file_bytes("{" + entry("a", "F32", "[\"1\"]", "[0,4]") + "}", zeros(4)), "a",
                 "shape[0] is a string");
}

TEST(SafetensorsMalformed, UnknownDtype) {
  expect_refused(file_bytes("{" + entry("w", "F33", "[1]", "[0,4]") + "}", zeros(4)), "w", "unknown dtype \"F33\"");
  expect_refused(file_bytes("{" + entry("w", "f32", "[1]", "[0,4]") + "}", zeros(4)), "w", "unknown dtype \"f32\"");
  expect_refused(file_bytes("{" + entry("w", "F4", "[2]", "[0,1]") + "}", zeros(1)), "w",
                 "dtype F4 packs elements in less than a byte; not supported");
}

TEST(SafetensorsMalformed, NegativeAndOverflowingShapes) {
  expect_refused(file_bytes("{" + entry("w", "F32", "[2,-1]", "[0,4]") + "}", zeros(4)), "w",
                 "shape[1] is -1, negative");
  expect_refused(file_bytes("{" + entry("w", "F32", "[4294967296,4294967296]", "[0,4]") + "}", zeros(4)), "w",
                 "shape [4294967296, 4294967296] has more than 2^64 elements");
  expect_refused(file_bytes("{" + entry("w", "F32", "[4611686018427387904]", "[0,4]") + "}", zeros(4)), "w",
                 "needs more than 2^64 bytes");
  expect_refused(file_bytes("{" + entry("w", "F32", "[99999999999999999999]", "[0,4]") + "}", zeros(4)), "w",
                 "beyond the supported range");
  // A shape whose product is 0 hides no overflow: [0, 2^40, 2^40] is 0 bytes.
  EXPECT_NO_THROW(st::File::parse(file_bytes("{" + entry("w", "F32", "[0,1099511627776,1099511627776]", "[0,0]") + "}", {}), "ok"));
}

TEST(SafetensorsMalformed, OffsetsNotMatchingTheShape) {
  expect_refused(file_bytes("{" + entry("h.0.ln_1.weight", "F32", "[768]", "[0,3070]") + "}", zeros(3070)),
                 "h.0.ln_1.weight", "shape [768] of F32 needs 3072 bytes, data_offsets give 3070");
  try {
    st::File::parse(file_bytes("{" + entry("h.0.ln_1.weight", "F32", "[768]", "[0,3070]") + "}", zeros(3070)),
                    "model.safetensors");
  } catch (const st::Error& e) {
    EXPECT_STREQ(e.what(),
                 "model.safetensors: tensor 'h.0.ln_1.weight': shape [768] of F32 needs 3072 bytes, data_offsets "
                 "give 3070");
  }
}

TEST(SafetensorsMalformed, OffsetsOutOfRange) {
  expect_refused(file_bytes("{" + entry("w", "F32", "[2]", "[0,8]") + "}", zeros(4)), "w",
                 "data_offsets [0, 8] run past the data section of 4 bytes");
  expect_refused(file_bytes("{" + entry("w", "F32", "[0]", "[8,4]") + "}", zeros(8)), "w",
                 "data_offsets [8, 4] end before they begin");
  expect_refused(file_bytes("{" + entry("w", "F32", "[1]", "[-4,0]") + "}", zeros(4)), "w",
                 "data_offsets[0] is -4, negative");
  expect_refused(file_bytes("{" + entry("w", "U8", "[1]", "[18446744073709551615,18446744073709551616]") + "}", zeros(1)),
                 "w", "beyond the supported range");
}

TEST(SafetensorsMalformed, OverlapsGapsAndTrailingBytes) {
  expect_refused(file_bytes("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[4,12]") + "}",
                            zeros(12)),
                 "b", "data_offsets [4, 12] overlap tensor 'a' [0, 8]");
  expect_refused(file_bytes("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[0,4]") + "}",
                            zeros(4)),
                 "b", "overlap tensor 'a' [0, 4]");
  expect_refused(file_bytes("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[8,12]") + "}",
                            zeros(12)),
                 "b", "bytes [4, 8] of the data section before this tensor belong to no tensor");
  expect_refused(file_bytes("{" + entry("a", "F32", "[1]", "[4,8]") + "}", zeros(8)), "a",
                 "bytes [0, 4] of the data section");
  expect_refused(file_bytes("{" + entry("a", "F32", "[1]", "[0,4]") + "}", zeros(6)), "",
                 "the data section has 6 bytes but the tensors cover 4");
  expect_refused(file_bytes("{}", zeros(1)), "", "the data section has 1 bytes but the tensors cover 0");
}

TEST(SafetensorsMalformed, Metadata) {
  expect_refused(file_bytes(R"({"__metadata__":{"format":1}})", {}), "", "__metadata__.format is an integer, not a string");
  expect_refused(file_bytes(R"({"__metadata__":[]})", {}), "", "__metadata__ is an array, not an object");
}

TEST(SafetensorsMalformed, TruncatedRealFile) {
  std::vector<uint8_t> data;
  for (int i = 0; i < 4; ++i) append_le<float>(data, 1.0f);
  const std::vector<uint8_t> good = file_bytes("{" + entry("w", "F32", "[4]", "[0,16]") + "}", data);
  ASSERT_NO_THROW(st::File::parse(good, "good"));
  for (size_t keep = 0; keep < good.size(); ++keep) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(keep));
    EXPECT_THROW(st::File::parse(cut, "cut"), st::Error) << keep << " bytes kept";
  }
}

// A small fuzz loop: random corruptions of valid files either parse (and then every tensor reads back
// within bounds) or throw st::Error; any other exception, a crash or a sanitizer report fails.
TEST(SafetensorsMalformed, RandomCorruptionsOnlyEverThrowError) {
  std::vector<uint8_t> data;
  for (int i = 0; i < 6; ++i) append_le<float>(data, static_cast<float>(i));
  append_le<uint16_t>(data, 0x3F80);
  const std::vector<uint8_t> base = file_bytes(
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[24,26]}}  )",
      data);
  const char interesting[] = "{}[],:\"0123456789-eE.\\ \x00\xff";
  std::mt19937 gen(12345);
  int accepted = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> b = base;
    const int edits = 1 + static_cast<int>(gen() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = gen() % b.size();
      switch (gen() % 4) {
        case 0: b[at] = static_cast<uint8_t>(gen()); break;
        case 1: b[at] = static_cast<uint8_t>(interesting[gen() % (sizeof interesting - 1)]); break;
        case 2: b.erase(b.begin() + static_cast<std::ptrdiff_t>(at)); break;
        case 3: b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), static_cast<uint8_t>(interesting[gen() % (sizeof interesting - 1)])); break;
      }
      if (b.empty()) b.push_back(0);
    }
    try {
      const st::File f = st::File::parse(b, "fuzz");
      ++accepted;
      for (const st::TensorInfo& t : f.tensors()) {
        ASSERT_LE(t.end, b.size());
        const auto bytes = f.bytes(t);
        ASSERT_EQ(bytes.size(), t.nbytes());
        if (t.dtype == st::Dtype::F32 || t.dtype == st::Dtype::BF16 || t.dtype == st::Dtype::F16 ||
            t.dtype == st::Dtype::F64) {
          ASSERT_EQ(f.read_f32(t.name).size(), t.numel());
        }
      }
    } catch (const st::Error&) {
    }
  }
  EXPECT_GT(accepted, 0);  // some edits (inside the data section) leave a valid file
}

// Hostile sizes must cost linear time: 100,000 tensors (a header of ~5 MB) parse in well under a second;
// a parser with per-key duplicate scans or per-value line counting from the start (both quadratic)
// would take minutes to hours here.
TEST(SafetensorsMalformed, ManyTensorsParseInLinearTime) {
  std::string header = "{";
  for (int i = 0; i < 100000; ++i) {
    if (i > 0) header += ',';
    const std::string index = std::to_string(i), next = std::to_string(i + 1);
    header += entry("t" + index, "U8", "[1]", "[" + index + "," + next + "]");
  }
  header += "}";
  const auto start = std::chrono::steady_clock::now();
  const st::File f = st::File::parse(file_bytes(header, zeros(100000)), "many");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(f.tensors().size(), 100000u);
  EXPECT_EQ(f.get("t99999").begin, 99999u);
  EXPECT_LT(seconds, 20.0);
}
