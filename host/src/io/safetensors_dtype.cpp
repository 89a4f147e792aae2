// The safetensors dtype table and the scalar conversions between float and its 16-bit forms.
#include <bit>
#include <cmath>

#include "tandem/safetensors.hpp"

namespace tandem::safetensors {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader copies it as is");

namespace {

struct DtypeRow {
  Dtype dtype;
  std::string_view name;
  size_t size;
};

constexpr DtypeRow kDtypes[] = {
    {Dtype::Bool, "BOOL", 1},   {Dtype::U8, "U8", 1},           {Dtype::I8, "I8", 1},
    {Dtype::F8_E5M2, "F8_E5M2", 1}, {Dtype::F8_E4M3, "F8_E4M3", 1}, {Dtype::F8_E8M0, "F8_E8M0", 1},
    {Dtype::F8_E4M3FNUZ, "F8_E4M3FNUZ", 1}, {Dtype::F8_E5M2FNUZ, "F8_E5M2FNUZ", 1},
    {Dtype::I16, "I16", 2},     {Dtype::U16, "U16", 2},         {Dtype::F16, "F16", 2},
    {Dtype::BF16, "BF16", 2},   {Dtype::I32, "I32", 4},         {Dtype::U32, "U32", 4},
    {Dtype::F32, "F32", 4},     {Dtype::C64, "C64", 8},         {Dtype::F64, "F64", 8},
    {Dtype::I64, "I64", 8},     {Dtype::U64, "U64", 8},
};

const DtypeRow& row(Dtype d) {
  for (const DtypeRow& r : kDtypes)
    if (r.dtype == d) return r;
  return kDtypes[0];  // unreachable for a valid enum value
}

}  // namespace

size_t dtype_size(Dtype d) { return row(d).size; }
std::string_view dtype_name(Dtype d) { return row(d).name; }

std::optional<Dtype> dtype_from_name(std::string_view name) {
  for (const DtypeRow& r : kDtypes)
    if (r.name == name) return r.dtype;
  return std::nullopt;
}

float bf16_to_f32(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

uint16_t f32_to_bf16(float value) {
  const uint32_t u = std::bit_cast<uint32_t>(value);
  if (std::isnan(value)) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // keep sign, force quiet
  // Round to nearest, ties to even: add 0x7FFF plus the lowest kept bit, then truncate. A carry out of
  // the mantissa correctly bumps the exponent (up to infinity for the largest finite values).
  const uint32_t lsb = (u >> 16) & 1u;
  return static_cast<uint16_t>((u + 0x7FFFu + lsb) >> 16);
}

float f16_to_f32(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  const uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));  // inf, NaN
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));  // rebias 15 -> 127
}

std::string shape_string(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string_view without_gpt2_prefix(std::string_view name) {
  if (name.starts_with(kGpt2Prefix)) name.remove_prefix(kGpt2Prefix.size());
  return name;
}

bool is_gpt2_attention_buffer(std::string_view name) {
  name = without_gpt2_prefix(name);
  // "h.<digits>.attn.bias" or "h.<digits>.attn.masked_bias"
  if (!name.starts_with("h.")) return false;
  name.remove_prefix(2);
  size_t digits = 0;
  while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9') ++digits;
  if (digits == 0) return false;
  name.remove_prefix(digits);
  return name == ".attn.bias" || name == ".attn.masked_bias";
}

}  // namespace tandem::safetensors
