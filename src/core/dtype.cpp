// Element types: their layouts and the scalar conversions of the small float formats (see dtype.h).
#include "core/dtype.h"

#include <array>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace whale {
namespace {

struct Entry {
  DType type;
  DTypeInfo info;
};

constexpr std::array<Entry, 9> kTypes = {{
    {DType::F32, {"f32", 1, 4}},
    {DType::F16, {"f16", 1, 2}},
    {DType::Q4_0, {"q4_0", kQK4_0, sizeof(BlockQ4_0)}},
    {DType::Q8_0, {"q8_0", kQK8_0, sizeof(BlockQ8_0)}},
    {DType::Q4_K, {"q4_k", kQK_K, sizeof(BlockQ4_K)}},
    {DType::Q5_K, {"q5_k", kQK_K, sizeof(BlockQ5_K)}},
    {DType::Q6_K, {"q6_k", kQK_K, sizeof(BlockQ6_K)}},
    {DType::BF16, {"bf16", 1, 2}},
    {DType::F8_E4M3, {"f8_e4m3", 1, 1}},
}};

}  // namespace

std::optional<DTypeInfo> dtype_info(uint32_t id) {
  for (const Entry& e : kTypes) {
    if (static_cast<uint32_t>(e.type) == id) return e.info;
  }
  return std::nullopt;
}

const DTypeInfo& dtype_info(DType type) {
  for (const Entry& e : kTypes) {
    if (e.type == type) return e.info;
  }
  WHALE_ASSERT(false && "DType value outside the enum");
  return kTypes[0].info;  // unreachable
}

std::string_view dtype_name(DType type) { return dtype_info(type).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const Entry& e : kTypes) {
    if (e.info.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(name[i])) == e.info.name[i];
    }
    if (same) return e.type;
  }
  return std::nullopt;
}

bool dtype_is_gguf(DType type) { return type != DType::F8_E4M3; }

bool dtype_is_quantized(DType type) { return dtype_info(type).block_elements > 1; }

size_t dtype_bytes(DType type, uint64_t elements) {
  const DTypeInfo& info = dtype_info(type);
  WHALE_ASSERT(elements % info.block_elements == 0);
  return static_cast<size_t>(elements / info.block_elements * info.block_bytes);
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  const uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {  // infinity or NaN: keep the payload
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {  // normal: rebias 15 -> 127
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal half: mantissa * 2^-24 is exact in f32
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return std::bit_cast<float>(bits);
}

uint16_t f32_to_f16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN stays a quiet NaN
  if (abs_bits >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  const int32_t exponent = static_cast<int32_t>(abs_bits >> 23) - 127;
  if (exponent >= -14) {  // normal half
    uint32_t mantissa = abs_bits & 0x7fffffu;
    uint32_t half = (static_cast<uint32_t>(exponent + 15) << 10) | (mantissa >> 13);
    const uint32_t rest = mantissa & 0x1fffu;
    // Round to nearest even; a carry out of the mantissa correctly bumps the exponent.
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  if (exponent < -25) return sign;  // below half the smallest subnormal: zero
  // Subnormal half: value / 2^-24, rounded to nearest even.
  const uint32_t mantissa = (abs_bits & 0x7fffffu) | 0x800000u;
  const int shift = -exponent - 1;  // 14..24: bits of the 24-bit mantissa dropped
  uint32_t half = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
  return static_cast<uint16_t>(sign | half);
}

float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

uint16_t f32_to_bf16(float f) {
  uint32_t bits = std::bit_cast<uint32_t>(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

float f8_e4m3_to_f32(uint8_t v) {
  const bool negative = (v & 0x80u) != 0;
  const int exponent = (v >> 3) & 0xf;
  const int mantissa = v & 0x7;
  float magnitude;
  if (exponent == 0xf && mantissa == 0x7) {
    magnitude = std::numeric_limits<float>::quiet_NaN();
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -9);  // subnormal: m/8 * 2^-6
  } else {
    magnitude = std::ldexp(static_cast<float>(8 + mantissa), exponent - 10);  // (1 + m/8) * 2^(e-7)
  }
  return negative ? -magnitude : magnitude;
}

}  // namespace whale
