// Tests of the dtype table and the small-float conversions against hand-worked bit patterns and, for f16,
// the compiler's own _Float16 conversion.
#include "core/dtype.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

namespace whale {
namespace {

TEST(DType, TableMatchesGgmlLayouts) {
  EXPECT_EQ(dtype_info(DType::Q4_0).block_elements, 32u);
  EXPECT_EQ(dtype_info(DType::Q4_0).block_bytes, 18u);
  EXPECT_EQ(dtype_info(DType::Q8_0).block_bytes, 34u);
  EXPECT_EQ(dtype_info(DType::Q4_K).block_bytes, 144u);
  EXPECT_EQ(dtype_info(DType::Q5_K).block_bytes, 176u);
  EXPECT_EQ(dtype_info(DType::Q6_K).block_bytes, 210u);
  EXPECT_EQ(dtype_info(DType::Q6_K).block_elements, 256u);
  EXPECT_EQ(dtype_info(DType::BF16).block_bytes, 2u);
  EXPECT_EQ(dtype_bytes(DType::F32, 10), 40u);
  EXPECT_EQ(dtype_bytes(DType::Q8_0, 64), 68u);
  EXPECT_EQ(dtype_bytes(DType::Q4_K, 512), 288u);
  EXPECT_EQ(dtype_bytes(DType::F8_E4M3, 7), 7u);
  EXPECT_EQ(dtype_info(uint32_t{30})->name, "bf16");
  EXPECT_FALSE(dtype_info(uint32_t{3}).has_value());  // Q4_1: not supported
  EXPECT_FALSE(dtype_is_gguf(DType::F8_E4M3));
  EXPECT_TRUE(dtype_is_quantized(DType::Q4_0));
  EXPECT_FALSE(dtype_is_quantized(DType::BF16));
}

TEST(DType, NamesRoundTrip) {
  EXPECT_EQ(dtype_from_name("Q8_0"), DType::Q8_0);
  EXPECT_EQ(dtype_from_name("bf16"), DType::BF16);
  EXPECT_EQ(dtype_from_name("q6_k"), DType::Q6_K);
  EXPECT_FALSE(dtype_from_name("q8").has_value());
  EXPECT_EQ(dtype_name(DType::F16), "f16");
}

TEST(F16, KnownValues) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));

  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);  // below the halfway point to 65536
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // halfway rounds to even: infinity
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie -> even mantissa 0
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even mantissa 2
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);       // tie between 0 and 1 subnormal -> 0
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);       // 1.5 subnormal steps: tie -> 2
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(1e10f), 0x7c00);
  EXPECT_EQ(f32_to_f16(std::nanf("")) & 0x7c00, 0x7c00);
  EXPECT_NE(f32_to_f16(std::nanf("")) & 0x3ff, 0);
}

TEST(F16, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << std::hex << h;
  }
}

#ifdef __FLT16_MAX__
TEST(F16, MatchesCompilerConversionOnRandomFloats) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    // Random bit patterns cover every exponent, including subnormal-half and overflow ranges.
    const float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (std::isnan(f)) continue;
    const _Float16 h = static_cast<_Float16>(f);
    ASSERT_EQ(f32_to_f16(f), std::bit_cast<uint16_t>(h)) << f;
    ASSERT_EQ(f16_to_f32(std::bit_cast<uint16_t>(h)), static_cast<float>(h));
  }
}
#endif

TEST(BF16, KnownValues) {
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xc040), -3.0f);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie -> even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
  EXPECT_TRUE(std::isinf(bf16_to_f32(f32_to_bf16(std::bit_cast<float>(0x7f7fffffu)))));  // FLT_MAX rounds up
}

TEST(F8E4M3, KnownValues) {
  // Sign | 4 exponent bits (bias 7) | 3 mantissa bits.
  EXPECT_EQ(f8_e4m3_to_f32(0x38), 1.0f);                      // e=7, m=0
  EXPECT_EQ(f8_e4m3_to_f32(0xb8), -1.0f);
  EXPECT_EQ(f8_e4m3_to_f32(0x40), 2.0f);                      // e=8
  EXPECT_EQ(f8_e4m3_to_f32(0x3c), 1.5f);                      // e=7, m=4
  EXPECT_EQ(f8_e4m3_to_f32(0x7e), 448.0f);                    // largest finite: e=15, m=6
  EXPECT_EQ(f8_e4m3_to_f32(0x08), std::ldexp(1.0f, -6));      // smallest normal
  EXPECT_EQ(f8_e4m3_to_f32(0x01), std::ldexp(1.0f, -9));      // smallest subnormal: 1/8 * 2^-6
  EXPECT_EQ(f8_e4m3_to_f32(0x07), 7 * std::ldexp(1.0f, -9));
  EXPECT_EQ(f8_e4m3_to_f32(0x00), 0.0f);
  EXPECT_TRUE(std::isnan(f8_e4m3_to_f32(0x7f)));
  EXPECT_TRUE(std::isnan(f8_e4m3_to_f32(0xff)));
  EXPECT_EQ(f8_e4m3_to_f32(0x78), 256.0f);                    // e=15, m=0 is finite in e4m3fn
}

}  // namespace
}  // namespace whale
