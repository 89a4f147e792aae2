// Reading safetensors files built byte by byte in the test (independently of the writer): the layout of
// Hugging Face's GPT-2 checkpoint, every supported float dtype, lookups in both naming forms.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "safetensors_bytes.hpp"
#include "tandem/safetensors.hpp"

namespace st = tandem::safetensors;
using tandem_test::append_le;
using tandem_test::file_bytes;

namespace {

// A miniature of the hub's gpt2/model.safetensors: GPT2Model names (no "transformer."), a causal-mask
// buffer, {"format": "pt"} metadata, and a header whose keys are not in data order.
std::vector<uint8_t> hf_style_gpt2_file() {
  std::vector<uint8_t> data;
  for (int i = 0; i < 6; ++i) append_le<float>(data, 0.5f * static_cast<float>(i));  // wte [3, 2]
  for (int i = 0; i < 4; ++i) append_le<float>(data, i == 3 ? 1.0f : 0.0f);        // h.0.attn.bias [1,1,2,2]
  for (int i = 0; i < 6; ++i) append_le<float>(data, -1.0f * static_cast<float>(i));  // c_attn [2, 3]
  const std::string header =
      R"({"h.0.attn.c_attn.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[40,64]},)"
      R"("__metadata__":{"format":"pt"},)"
      R"("wte.weight":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]},)"
      R"("h.0.attn.bias":{"dtype":"F32","shape":[1,1,2,2],"data_offsets":[24,40]}}    )";
  return file_bytes(header, data);
}

}  // namespace

TEST(SafetensorsRead, HandBuiltGpt2StyleFile) {
  const st::File f = st::File::parse(hf_style_gpt2_file(), "gpt2.safetensors");
  ASSERT_EQ(f.tensors().size(), 3u);
  // In data order, whatever the header's order.
  EXPECT_EQ(f.tensors()[0].name, "wte.weight");
  EXPECT_EQ(f.tensors()[1].name, "h.0.attn.bias");
  EXPECT_EQ(f.tensors()[2].name, "h.0.attn.c_attn.weight");
  EXPECT_EQ(f.tensors()[2].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.tensors()[2].begin, 40u);
  EXPECT_EQ(f.tensors()[2].end, 64u);
  EXPECT_EQ(f.tensors()[2].numel(), 6u);
  ASSERT_EQ(f.metadata().size(), 1u);
  EXPECT_EQ(*f.metadata_value("format"), "pt");
  EXPECT_EQ(f.metadata_value("other"), nullptr);

  EXPECT_EQ(f.read_f32("wte.weight"), (std::vector<float>{0, 0.5f, 1, 1.5f, 2, 2.5f}));
  EXPECT_EQ(f.read_f32("h.0.attn.c_attn.weight"), (std::vector<float>{-0.0f, -1, -2, -3, -4, -5}));
  EXPECT_TRUE(st::is_gpt2_attention_buffer(f.tensors()[1].name));
}

TEST(SafetensorsRead, BothGpt2NamingFormsResolve) {
  const st::File f = st::File::parse(hf_style_gpt2_file(), "gpt2.safetensors");
  EXPECT_EQ(f.find("transformer.wte.weight"), nullptr);  // find is exact
  const st::TensorInfo* t = f.resolve("transformer.h.0.attn.c_attn.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name, "h.0.attn.c_attn.weight");
  EXPECT_EQ(&f.expect("transformer.wte.weight", {3, 2}), f.find("wte.weight"));
  EXPECT_EQ(f.read_f32("transformer.wte.weight")[1], 0.5f);
  try {
    f.get("transformer.h.0.mlp.c_fc.weight");
    FAIL() << "no error";
  } catch (const st::Error& e) {
    EXPECT_EQ(e.tensor(), "transformer.h.0.mlp.c_fc.weight");
    EXPECT_STREQ(e.what(),
                 "gpt2.safetensors: tensor 'transformer.h.0.mlp.c_fc.weight': no such tensor in the file (nor "
                 "'h.0.mlp.c_fc.weight')");
  }

  // tandem's own form, with the prefix, resolves from the short name too.
  std::vector<uint8_t> data;
  append_le<float>(data, 3.0f);
  const st::File g = st::File::parse(
      file_bytes(R"({"transformer.ln_f.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", data), "t");
  EXPECT_EQ(g.read_f32("ln_f.bias"), std::vector<float>{3.0f});
}

TEST(SafetensorsRead, ExpectNamesTheTensorAndBothShapes) {
  const st::File f = st::File::parse(hf_style_gpt2_file(), "gpt2.safetensors");
  try {
    f.expect("wte.weight", {3, 3});
    FAIL() << "no error";
  } catch (const st::Error& e) {
    EXPECT_EQ(e.file(), "gpt2.safetensors");
    EXPECT_EQ(e.tensor(), "wte.weight");
    EXPECT_EQ(e.reason(), "expected shape [3, 3], found [3, 2]");
  }
  EXPECT_NO_THROW(f.expect("wte.weight", {3, 2}));
}

TEST(SafetensorsRead, ConvertsEachFloatDtype) {
  // F32 [2], BF16 [3], F16 [3], F64 [2], I64 [1]; offsets chosen by hand (no alignment needed).
  std::vector<uint8_t> data;
  append_le<float>(data, 1.25f);
  append_le<float>(data, -7.0f);
  for (uint16_t b : {uint16_t{0x3F80}, uint16_t{0xC040}, uint16_t{0x3E00}}) append_le(data, b);  // 1, -3, 0.125
  for (uint16_t h : {uint16_t{0x3C00}, uint16_t{0x0001}, uint16_t{0xFC00}}) append_le(data, h);  // 1, 2^-24, -inf
  append_le<double>(data, 0.1);
  append_le<double>(data, -1e300);
  append_le<int64_t>(data, 42);
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]},)"
      R"("c":{"dtype":"F16","shape":[3],"data_offsets":[14,20]},)"
      R"("d":{"dtype":"F64","shape":[2],"data_offsets":[20,36]},)"
      R"("e":{"dtype":"I64","shape":[],"data_offsets":[36,44]}})";
  const st::File f = st::File::parse(file_bytes(header, data), "mixed");
  EXPECT_EQ(f.read_f32("a"), (std::vector<float>{1.25f, -7.0f}));
  EXPECT_EQ(f.read_f32("b"), (std::vector<float>{1.0f, -3.0f, 0.125f}));
  const std::vector<float> c = f.read_f32("c");
  EXPECT_EQ(c[0], 1.0f);
  EXPECT_EQ(c[1], std::ldexp(1.0f, -24));
  EXPECT_EQ(c[2], -INFINITY);
  const std::vector<float> d = f.read_f32("d");
  EXPECT_EQ(d[0], 0.1f);
  EXPECT_EQ(d[1], -INFINITY);  // out of float range
  EXPECT_EQ(f.get("e").numel(), 1u);  // a scalar
  EXPECT_EQ(f.bytes(f.get("e"))[0], 42);
  try {
    f.read_f32("e");
    FAIL() << "no error";
  } catch (const st::Error& e) {
    EXPECT_EQ(e.tensor(), "e");
    EXPECT_NE(e.reason().find("dtype I64 cannot be read as float"), std::string::npos) << e.what();
  }
  std::vector<float> small(1);
  EXPECT_THROW(f.read_f32("a", small), st::Error);
}

TEST(SafetensorsRead, EmptyTensorsAndAHeaderOnlyFile) {
  const st::File empty = st::File::parse(file_bytes("{}", {}), "e");
  EXPECT_TRUE(empty.tensors().empty());
  const st::File zero = st::File::parse(
      file_bytes(R"({"z":{"dtype":"F32","shape":[0,5],"data_offsets":[0,0]}})", {}), "z");
  EXPECT_EQ(zero.get("z").numel(), 0u);
  EXPECT_TRUE(zero.read_f32("z").empty());
}

TEST(SafetensorsRead, OpensAMappedFileAndRefusesNonFiles) {
  tandem_test::ScratchDir dir;
  tandem_test::write_file(dir / "gpt2.safetensors", hf_style_gpt2_file());
  const st::File f = st::File::open(dir / "gpt2.safetensors");
  EXPECT_EQ(f.source(), (dir / "gpt2.safetensors").string());
  EXPECT_EQ(f.read_f32("h.0.attn.bias"), (std::vector<float>{0, 0, 0, 1}));

  try {
    st::File::open(dir / "missing.safetensors");
    FAIL() << "no error";
  } catch (const st::Error& e) {
    EXPECT_EQ(e.file(), (dir / "missing.safetensors").string());
    EXPECT_EQ(e.reason(), "no such file");
  }
  try {
    st::File::open(dir.path());
    FAIL() << "no error";
  } catch (const st::Error& e) {
    EXPECT_NE(e.reason().find("directory"), std::string::npos);
  }
  tandem_test::write_file(dir / "empty.safetensors", {});
  try {
    st::File::open(dir / "empty.safetensors");
    FAIL() << "no error";
  } catch (const st::Error& e) {
    EXPECT_EQ(e.reason(), "empty file (0 bytes): not a safetensors file");
  }
}

TEST(SafetensorsRead, MovedFileKeepsItsData) {
  st::File f = st::File::parse(hf_style_gpt2_file(), "gpt2");
  st::File g = std::move(f);
  EXPECT_EQ(g.read_f32("wte.weight")[5], 2.5f);
}
