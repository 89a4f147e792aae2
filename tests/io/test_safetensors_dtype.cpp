// The dtype table and the 16-bit float conversions, checked against the compiler's own _Float16 and
// against a round-to-nearest-even computed in double.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "tandem/safetensors.hpp"

namespace st = tandem::safetensors;

TEST(SafetensorsDtype, NamesAndSizesFollowTheFormat) {
  const std::pair<const char*, size_t> expected[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
      {"F8_E4M3FNUZ", 1}, {"F8_E5M2FNUZ", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
      {"F32", 4},  {"I64", 8}, {"U64", 8}, {"F64", 8},     {"C64", 8}};
  for (const auto& [name, size] : expected) {
    const std::optional<st::Dtype> d = st::dtype_from_name(name);
    ASSERT_TRUE(d.has_value()) << name;
    EXPECT_EQ(st::dtype_size(*d), size) << name;
    EXPECT_EQ(st::dtype_name(*d), name);
  }
  EXPECT_FALSE(st::dtype_from_name("f32"));  // case-sensitive, as the format is
  EXPECT_FALSE(st::dtype_from_name("F4"));
  EXPECT_FALSE(st::dtype_from_name(""));
}

TEST(SafetensorsDtype, F16MatchesTheCompilersFloat16ForAllBitPatterns) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float mine = st::f16_to_f32(static_cast<uint16_t>(h));
    const float reference = static_cast<float>(std::bit_cast<_Float16>(static_cast<uint16_t>(h)));
    if (std::isnan(reference)) {
      EXPECT_TRUE(std::isnan(mine)) << std::hex << h;
    } else {
      EXPECT_EQ(std::bit_cast<uint32_t>(mine), std::bit_cast<uint32_t>(reference)) << std::hex << h;
    }
  }
}

TEST(SafetensorsDtype, Bf16WidensByShifting) {
  EXPECT_EQ(st::bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(st::bf16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(st::bf16_to_f32(0x7F80), INFINITY);
  EXPECT_TRUE(std::isnan(st::bf16_to_f32(0x7FC0)));
  EXPECT_EQ(st::bf16_to_f32(0x0001), std::ldexp(1.0f, -133));  // smallest subnormal
}

namespace {

// The value of a bf16 pattern in double, with +-infinity standing for +-2^128 (where IEEE rounding puts
// the overflow threshold).
double bf16_value(uint16_t b) {
  const float f = st::bf16_to_f32(b);
  if (std::isinf(f)) return std::copysign(std::ldexp(1.0, 128), f);
  return f;
}

// Round to nearest, ties to even, decided in double between the two neighbouring bf16 patterns.
uint16_t reference_bf16(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  const uint16_t lo = static_cast<uint16_t>(u >> 16);  // truncation toward zero
  if ((u & 0xFFFF) == 0) return lo;
  const uint16_t hi = static_cast<uint16_t>(lo + 1);  // next away from zero
  const double dlo = std::fabs(static_cast<double>(x) - bf16_value(lo));
  const double dhi = std::fabs(static_cast<double>(x) - bf16_value(hi));
  if (dlo < dhi) return lo;
  if (dhi < dlo) return hi;
  return (lo & 1) ? hi : lo;
}

}  // namespace

TEST(SafetensorsDtype, Bf16NarrowingRoundsToNearestEven) {
  std::mt19937 gen(7);
  std::uniform_int_distribution<uint32_t> bits;
  int checked = 0;
  while (checked < 200000) {
    const float x = std::bit_cast<float>(bits(gen));
    if (std::isnan(x)) continue;
    ASSERT_EQ(st::f32_to_bf16(x), reference_bf16(x)) << std::hexfloat << x;
    ++checked;
  }
  // Exact ties: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 and goes to the even one (1).
  EXPECT_EQ(st::f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  EXPECT_EQ(st::f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  EXPECT_EQ(st::f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds up to infinity
  EXPECT_EQ(st::f32_to_bf16(-INFINITY), 0xFF80);
  const uint16_t nan = st::f32_to_bf16(std::bit_cast<float>(0x7F800001u));  // payload only in the low bits
  EXPECT_TRUE(std::isnan(st::bf16_to_f32(nan)));
}

TEST(SafetensorsDtype, ShapeStringAndGpt2Names) {
  EXPECT_EQ(st::shape_string(std::vector<int64_t>{}), "[]");
  EXPECT_EQ(st::shape_string(std::vector<int64_t>{768, 2304}), "[768, 2304]");
  EXPECT_EQ(st::without_gpt2_prefix("transformer.h.0.ln_1.weight"), "h.0.ln_1.weight");
  EXPECT_EQ(st::without_gpt2_prefix("h.0.ln_1.weight"), "h.0.ln_1.weight");
  EXPECT_EQ(st::without_gpt2_prefix("lm_head.weight"), "lm_head.weight");
  EXPECT_TRUE(st::is_gpt2_attention_buffer("h.0.attn.bias"));
  EXPECT_TRUE(st::is_gpt2_attention_buffer("transformer.h.11.attn.masked_bias"));
  EXPECT_FALSE(st::is_gpt2_attention_buffer("h.0.attn.c_attn.bias"));
  EXPECT_FALSE(st::is_gpt2_attention_buffer("h.0.attn.c_proj.bias"));
  EXPECT_FALSE(st::is_gpt2_attention_buffer("h.x.attn.bias"));
  EXPECT_FALSE(st::is_gpt2_attention_buffer("h.0.mlp.bias"));
}
