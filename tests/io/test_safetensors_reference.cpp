// Interoperability with Hugging Face's own implementation. fixtures/hf_safetensors_0.8.0.safetensors was
// written by the reference library (Python safetensors 0.8.0, safetensors.torch.save_file, torch 2.11)
// from GPT-2-style tensors:
//   g = torch.Generator().manual_seed(0)
//   {"wte.weight": randn(10, 4), "h.0.attn.bias": tril(ones(1, 1, 4, 4)), "h.0.attn.c_attn.weight":
//    randn(4, 12), "h.0.ln_1.weight": randn(4).bfloat16(), "h.0.mlp.c_fc.weight": randn(4, 16).half(),
//    "steps": tensor([3], int64), "scalar": tensor(2.5)}, metadata={"format": "pt"}
// The sums below are torch's (in float64), printed on the same machine. The file is read back here,
// and tandem's writer must reproduce it byte for byte. (The other direction, safetensors 0.8.0's
// load_file reading tandem's output, was checked on the same machine when this test was written.)
#include <gtest/gtest.h>

#include <numeric>

#include "safetensors_bytes.hpp"
#include "tandem/safetensors.hpp"

namespace st = tandem::safetensors;

namespace {

const std::filesystem::path kFixture =
    std::filesystem::path(TANDEM_TEST_SOURCE_DIR) / "tests/io/fixtures/hf_safetensors_0.8.0.safetensors";

double sum(const std::vector<float>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

}  // namespace

TEST(SafetensorsReference, ReadsAFileWrittenByHuggingFacesLibrary) {
  const st::File f = st::File::open(kFixture);
  EXPECT_EQ(f.metadata(), (st::Metadata{{"format", "pt"}}));
  ASSERT_EQ(f.tensors().size(), 7u);

  struct Expected {
    const char* name;
    st::Dtype dtype;
    std::vector<int64_t> shape;
    double sum;
  };
  const Expected expected[] = {
      {"h.0.attn.bias", st::Dtype::F32, {1, 1, 4, 4}, 10.0},
      {"h.0.attn.c_attn.weight", st::Dtype::F32, {4, 12}, 5.615370},
      {"h.0.ln_1.weight", st::Dtype::BF16, {4}, 3.096680},
      {"h.0.mlp.c_fc.weight", st::Dtype::F16, {4, 16}, -1.276825},
      {"scalar", st::Dtype::F32, {}, 2.5},
      {"wte.weight", st::Dtype::F32, {10, 4}, -3.220086},
  };
  for (const Expected& e : expected) {
    const st::TensorInfo& t = f.expect(std::string("transformer.") + e.name, e.shape);  // either naming form
    EXPECT_EQ(t.dtype, e.dtype) << e.name;
    EXPECT_NEAR(sum(f.read_f32(e.name)), e.sum, 5e-7) << e.name;
  }
  EXPECT_EQ(f.read_f32("h.0.attn.bias"),
            (std::vector<float>{1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1}));  // the causal mask
  const auto steps = f.bytes(f.get("steps"));
  int64_t value = 0;
  std::memcpy(&value, steps.data(), 8);
  EXPECT_EQ(value, 3);
}

TEST(SafetensorsReference, WriterReproducesTheReferenceBytes) {
  const st::File f = st::File::open(kFixture);
  std::vector<st::TensorData> tensors;
  // Handed over in reverse data order: the writer's own ordering must recover the reference layout.
  for (auto it = f.tensors().rbegin(); it != f.tensors().rend(); ++it)
    tensors.push_back({it->name, it->dtype, it->shape, f.bytes(*it)});
  EXPECT_EQ(st::serialize(tensors, f.metadata()), tandem_test::read_file(kFixture));
}
