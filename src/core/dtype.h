// Element types of weights and their block layouts. Values of the enum are the GGUF (ggml) type ids, so a
// GGUF tensor type converts by a range check; types GGUF has no id for (FP8) use ids above its range.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace whale {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  BF16 = 30,
  F8_E4M3 = 1000,  // DeepSeek-V3's float8_e4m3fn with 128x128 block scales; not a GGUF type
};

struct DTypeInfo {
  std::string_view name;    // "f32", "q8_0", ...
  size_t block_elements;    // elements per block (1 for plain types)
  size_t block_bytes;       // bytes per block
};

// Layout of a type; nullopt for ids that are not one of the types above.
std::optional<DTypeInfo> dtype_info(uint32_t id);
const DTypeInfo& dtype_info(DType type);
std::string_view dtype_name(DType type);
// Parses a name as printed by dtype_name ("f16", "q8_0", case-insensitive); nullopt when unknown.
std::optional<DType> dtype_from_name(std::string_view name);
// Bytes taken by `elements` values of `type`; elements must be a multiple of the block size.
size_t dtype_bytes(DType type, uint64_t elements);
// Whether GGUF files can hold the type (FP8 has no GGUF id).
bool dtype_is_gguf(DType type);
// Whether the type stores blocks of several elements with shared scales.
bool dtype_is_quantized(DType type);

// Quant block layouts (the ggml layouts, which GGUF files hold byte for byte).
inline constexpr size_t kQK4_0 = 32;   // block_q4_0: f16 d; uint8 qs[16]
inline constexpr size_t kQK8_0 = 32;   // block_q8_0: f16 d; int8 qs[32]
inline constexpr size_t kQK_K = 256;   // super-block of the K-quants
inline constexpr size_t kKScaleSize = 12;

struct BlockQ4_0 { uint16_t d; uint8_t qs[kQK4_0 / 2]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[kQK8_0]; };
struct BlockQ4_K { uint16_t d; uint16_t dmin; uint8_t scales[kKScaleSize]; uint8_t qs[kQK_K / 2]; };
struct BlockQ5_K { uint16_t d; uint16_t dmin; uint8_t scales[kKScaleSize]; uint8_t qh[kQK_K / 8]; uint8_t qs[kQK_K / 2]; };
struct BlockQ6_K { uint8_t ql[kQK_K / 2]; uint8_t qh[kQK_K / 4]; int8_t scales[kQK_K / 16]; uint16_t d; };
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);

// Scalar conversions of the small float formats.
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);      // round to nearest even
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);     // round to nearest even
float f8_e4m3_to_f32(uint8_t v);   // float8_e4m3fn: no infinities, 0x7f/0xff are NaN

}  // namespace whale
