// Tests of the scalar (de)quantization reference: blocks built by hand from the ggml layouts with the
// expected values worked out in comments, plus round-trip error bounds for the quantizers.
#include "kernels/ref/quant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <random>
#include <vector>

#include "kernels/act.h"

namespace whale::ref {
namespace {

constexpr uint16_t kHalfOne = 0x3c00;   // 1.0
constexpr uint16_t kHalfHalf = 0x3800;  // 0.5
constexpr uint16_t kHalfTwo = 0x4000;   // 2.0

TEST(Dequantize, Q8_0) {
  BlockQ8_0 block{};
  block.d = kHalfHalf;
  for (int j = 0; j < 32; ++j) block.qs[j] = static_cast<int8_t>(j * 8 - 128);  // -128, -120, ..., 120
  float y[32];
  dequantize_row(DType::Q8_0, &block, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.5f * (j * 8 - 128)) << j;
}

TEST(Dequantize, Q4_0) {
  // y[j] = (low nibble of qs[j] - 8) * d, y[j + 16] = (high nibble of qs[j] - 8) * d, d = 2.
  BlockQ4_0 block{};
  block.d = kHalfTwo;
  std::memset(block.qs, 0x88, sizeof(block.qs));  // every nibble 8 -> 0
  block.qs[0] = 0x9f;  // y[0] = (15 - 8) * 2 = 14, y[16] = (9 - 8) * 2 = 2
  block.qs[1] = 0x08;  // y[1] = 0,               y[17] = (0 - 8) * 2 = -16
  float y[32];
  dequantize_row(DType::Q4_0, &block, y, 32);
  EXPECT_EQ(y[0], 14.0f);
  EXPECT_EQ(y[16], 2.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[17], -16.0f);
  EXPECT_EQ(y[5], 0.0f);
  EXPECT_EQ(y[31], 0.0f);
}

// Scales shared by the Q4_K and Q5_K cases. Sub-blocks of 32 elements j = 0..7 each have a 6-bit scale and
// min; for j < 4 they are scales[j] & 63 and scales[j+4] & 63; for j >= 4 the low 4 bits come from
// scales[j+4] (scale: low nibble, min: high nibble) and the top 2 bits from bits 6-7 of scales[j-4] / scales[j].
//   sub-block 0: scale 2, min 3     sub-block 1: scale 5, min 1
//   sub-block 4: scale 37 = 0b10'0101 (low 5 in scales[8], top 2 in scales[0] bits 6-7)
//                min 20 = 0b01'0100   (low 4 in scales[8] high nibble, top 1 in scales[4] bits 6-7)
void fill_k_scales(uint8_t* scales) {
  std::memset(scales, 0, kKScaleSize);
  scales[0] = 2 | (2 << 6);
  scales[1] = 5;
  scales[4] = 3 | (1 << 6);
  scales[5] = 1;
  scales[8] = 5 | (4 << 4);
}

TEST(Dequantize, KQuantScaleUnpacking) {
  uint8_t scales[kKScaleSize];
  fill_k_scales(scales);
  uint8_t sc, m;
  k_quant_scale_min(scales, 0, &sc, &m);
  EXPECT_EQ(sc, 2);
  EXPECT_EQ(m, 3);
  k_quant_scale_min(scales, 4, &sc, &m);
  EXPECT_EQ(sc, 37);
  EXPECT_EQ(m, 20);
}

TEST(Dequantize, Q4_K) {
  // d = 1, dmin = 0.5; value = d * scale * q - dmin * min. qs[l] of chunk c holds element 64c + l (low nibble)
  // and 64c + 32 + l (high nibble).
  BlockQ4_K block{};
  block.d = kHalfOne;
  block.dmin = kHalfHalf;
  fill_k_scales(block.scales);
  block.qs[0] = 0x7a;   // y[0] = 2*10 - 0.5*3 = 18.5;  y[32] = 5*7 - 0.5*1 = 34.5
  block.qs[64] = 0x03;  // y[128] = 37*3 - 0.5*20 = 101; y[160]: sub-block 5 has scale 0, min 0 -> 0
  std::vector<float> y(256);
  dequantize_row(DType::Q4_K, &block, y.data(), 256);
  EXPECT_EQ(y[0], 18.5f);
  EXPECT_EQ(y[32], 34.5f);
  EXPECT_EQ(y[128], 101.0f);
  EXPECT_EQ(y[160], 0.0f);
  EXPECT_EQ(y[1], -1.5f);    // q = 0 in sub-block 0: -0.5*3
  EXPECT_EQ(y[33], -0.5f);   // q = 0 in sub-block 1
  EXPECT_EQ(y[129], -10.0f); // q = 0 in sub-block 4: -0.5*20
  EXPECT_EQ(y[255], 0.0f);
}

TEST(Dequantize, Q5_K) {
  // As Q4_K, plus 16 when the fifth bit is set: bit 2c of qh[l] for element 64c + l, bit 2c+1 for 64c+32+l.
  BlockQ5_K block{};
  block.d = kHalfOne;
  block.dmin = kHalfHalf;
  fill_k_scales(block.scales);
  block.qs[0] = 0x7a;
  block.qs[64] = 0x03;
  block.qh[0] = 0x13;  // bits 0, 1, 4: elements 0, 32, 128
  block.qh[1] = 0x80;  // bit 7: element 3*64 + 32 + 1 = 225 (sub-block 7: scale 0 -> 0)
  std::vector<float> y(256);
  dequantize_row(DType::Q5_K, &block, y.data(), 256);
  EXPECT_EQ(y[0], 2 * 26 - 1.5f);     // 50.5
  EXPECT_EQ(y[32], 5 * 23 - 0.5f);    // 114.5
  EXPECT_EQ(y[128], 37 * 19 - 10.0f); // 693
  EXPECT_EQ(y[1], -1.5f);
  EXPECT_EQ(y[225], 0.0f);
}

TEST(Dequantize, Q6_K) {
  // d = 0.5. In half h (128 elements), element 32k + l takes its low 4 bits from ql[64h + l + 32*(k&1)]
  // (low nibble for k < 2, high nibble for k >= 2), its top 2 bits from bits 2k..2k+1 of qh[32h + l], and
  // its scale from scales[8h + 2k + l/16]. value = d * scale * (q - 32).
  BlockQ6_K block{};
  block.d = kHalfHalf;
  block.scales[0] = 3;
  block.scales[1] = 1;
  block.scales[2] = -2;
  block.scales[4] = 1;
  block.scales[6] = 4;
  block.scales[8] = 7;
  block.ql[0] = 0x5a;   // low 10, high 5
  block.ql[32] = 0x3c;  // low 12, high 3
  block.qh[0] = 0xe4;   // 0b11'10'01'00: top bits 0 (k=0), 1 (k=1), 2 (k=2), 3 (k=3)
  block.ql[64] = 0x0f;  // second half, element 128: low 15
  block.qh[32] = 0x01;  //   top bits 1 -> q = 31
  std::vector<float> y(256);
  dequantize_row(DType::Q6_K, &block, y.data(), 256);
  EXPECT_EQ(y[0], 0.5f * 3 * (10 - 32));          // -33
  EXPECT_EQ(y[32], 0.5f * -2 * ((12 | 16) - 32));  // 4
  EXPECT_EQ(y[64], 0.5f * 1 * ((5 | 32) - 32));    // 2.5
  EXPECT_EQ(y[96], 0.5f * 4 * ((3 | 48) - 32));    // 38
  EXPECT_EQ(y[1], 0.5f * 3 * -32);                 // -48
  EXPECT_EQ(y[16], 0.5f * 1 * -32);                // scales[1]: -16
  EXPECT_EQ(y[128], 0.5f * 7 * -1);                // -3.5
  EXPECT_EQ(y[48], 0.0f);                          // scales[3] = 0
}

TEST(Dequantize, PlainFloats) {
  const uint16_t halves[3] = {0x3c00, 0xc000, 0x3555};  // 1, -2, 0.333251953125
  float y[3];
  dequantize_row(DType::F16, halves, y, 3);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], 0.333251953125f);
  const uint16_t brains[2] = {0x3f80, 0x4049};  // 1, 3.140625
  dequantize_row(DType::BF16, brains, y, 2);
  EXPECT_EQ(y[1], 3.140625f);
  const uint8_t fp8[2] = {0x38, 0xc4};  // 1, -(1 + 4/8) * 2^(8-7) = -3
  dequantize_row(DType::F8_E4M3, fp8, y, 2);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -3.0f);
}

TEST(Dequantize, Fp8WithBlockScales) {
  // A 130 x 260 weight spans 2 x 3 scale blocks; every weight byte is 0x38 (1.0), so the result is the scale
  // of the block the element falls in.
  const int64_t rows = 130, cols = 260;
  std::vector<uint8_t> weight(rows * cols, 0x38);
  weight[129 * cols + 259] = 0x40;  // 2.0 in the last block
  const float scale_inv[6] = {1, 2, 3, 4, 5, 6};
  std::vector<float> y(rows * cols);
  dequantize_f8_e4m3_blocks(weight.data(), scale_inv, rows, cols, y.data());
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[127], 1.0f);
  EXPECT_EQ(y[128], 2.0f);
  EXPECT_EQ(y[256], 3.0f);
  EXPECT_EQ(y[127 * cols + 255], 2.0f);
  EXPECT_EQ(y[128 * cols], 4.0f);
  EXPECT_EQ(y[128 * cols + 200], 5.0f);
  EXPECT_EQ(y[129 * cols + 259], 12.0f);
}

TEST(Quantize, Q8_0ExactWhenValuesAreMultiplesOfScale) {
  // max |x| = 127 -> d = 1 exactly, every integer value is representable.
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j * 8 - 121);  // -121 .. 127
  BlockQ8_0 block;
  quantize_row(DType::Q8_0, x, &block, 32);
  EXPECT_EQ(block.d, kHalfOne);
  EXPECT_EQ(block.qs[31], 127);
  EXPECT_EQ(block.qs[0], -121);
}

TEST(Quantize, Q4_0ExactWhenValuesAreMultiplesOfScale) {
  // Largest magnitude value is -2 -> d = -2 / -8 = 0.25; x = (j % 16 - 8) * 0.25 maps to nibble j % 16.
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j % 16 - 8) * 0.25f;
  BlockQ4_0 block;
  quantize_row(DType::Q4_0, x, &block, 32);
  EXPECT_EQ(f16_to_f32(block.d), 0.25f);
  EXPECT_EQ(block.qs[3], 0x33);
  float y[32];
  dequantize_row(DType::Q4_0, &block, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], x[j]) << j;
}

TEST(Quantize, RoundTripErrorWithinHalfStep) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int n = 32 * 64;
  std::vector<float> x(n), y(n);
  for (float& v : x) v = dist(rng);
  x[5] = 0.0f;
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::F16, DType::BF16, DType::F32}) {
    std::vector<uint8_t> q(dtype_bytes(type, n));
    quantize_row(type, x.data(), q.data(), n);
    dequantize_row(type, q.data(), y.data(), n);
    for (int b = 0; b < n / 32; ++b) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
      float step = 0;  // quantization step of the block
      if (type == DType::Q8_0) step = amax / 127;
      if (type == DType::Q4_0) step = amax / 8;
      for (int j = 0; j < 32; ++j) {
        const float v = x[b * 32 + j];
        float bound = step * 0.5f * 1.01f + std::fabs(v) * 1e-3f;  // f16 rounding of d adds a little
        // Q4_0 spans [-8, 7] steps with -8 on the side of the extreme value: values beyond 7.5 steps on the
        // other side clamp to 7 and may be off by up to one step.
        if (type == DType::Q4_0 && std::fabs(v) > 7.5f * step) bound = step * 1.01f;
        if (type == DType::F16) bound = std::fabs(v) * std::ldexp(1.0f, -11) + 1e-7f;
        if (type == DType::BF16) bound = std::fabs(v) * std::ldexp(1.0f, -8);
        if (type == DType::F32) bound = 0;
        ASSERT_LE(std::fabs(y[b * 32 + j] - v), bound) << dtype_name(type) << " at " << b * 32 + j;
      }
    }
  }
}

TEST(Quantize, AllZeroBlocksStayZero) {
  float x[32] = {};
  BlockQ8_0 q8;
  BlockQ4_0 q4;
  quantize_row(DType::Q8_0, x, &q8, 32);
  quantize_row(DType::Q4_0, x, &q4, 32);
  float y[32];
  dequantize_row(DType::Q8_0, &q8, y, 32);
  for (float v : y) EXPECT_EQ(v, 0.0f);
  dequantize_row(DType::Q4_0, &q4, y, 32);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

// Values that sit exactly on a K-quant grid come back (up to the f16 rounding of the super-block scales,
// relative 2^-11 per scale): this pins the packing of quants, high bits and 6-bit scales to the positions
// the dequantizers read, since any permutation would move values by whole steps.
TEST(Quantize, KQuantsExactOnTheirGrid) {
  const int n = 512;
  std::vector<float> x(n), y(n);
  // Steps per sub-block of 32 in ratios the sub-block scales hold exactly: 1:3:7 of the largest (scale 63
  // -> 9, 27, 63) for Q4_K/Q5_K, 1:2:4 (int8 scale -128 -> -32, -64, -128) for Q6_K.
  struct Grid { DType type; int levels; int offset; float steps[3]; };
  for (const Grid g : {Grid{DType::Q4_K, 16, 0, {0.125f, 0.375f, 0.875f}},
                       Grid{DType::Q5_K, 32, 0, {0.125f, 0.375f, 0.875f}},
                       Grid{DType::Q6_K, 64, 32, {0.25f, 0.5f, 1.0f}}}) {
    // Quants run over the whole range in each sub-block (so min-max finds the grid), shuffled by a stride
    // coprime to the levels.
    // Q6_K's sub-blocks are 16 values: each starts with the most negative level, so every sub-block's
    // scale has the same sign and the int8 scales hold the ratios exactly.
    for (int i = 0; i < n; ++i) {
      const int q = g.offset != 0 && i % 16 == 0 ? 0 : (i * 7) % g.levels;
      const float step = g.steps[(i / 32) % 3];
      x[i] = step * static_cast<float>(q - g.offset);
    }
    std::vector<uint8_t> packed(dtype_bytes(g.type, n));
    quantize_row(g.type, x.data(), packed.data(), n);
    dequantize_row(g.type, packed.data(), y.data(), n);
    for (int i = 0; i < n; ++i) {
      ASSERT_NEAR(y[i], x[i], 2e-3f * (std::fabs(x[i]) + 1.0f)) << dtype_name(g.type) << " at " << i;
    }
  }
}

// Gaussian data: the error of a rounding to a grid of step h is at most h/2 and about h/sqrt(12) in RMS. For
// a sub-block of 32 normal values the range is about 4 sigma, so Q4_K (15 steps) has h ~ 0.27 sigma and an
// RMS error near 0.077 sigma; Q5_K (31 steps) 0.037; Q6_K (symmetric over 16 values, range ~3.5 sigma / 63)
// about 0.016. The bounds leave ~15% for the rounding of the 6-/8-bit scales.
TEST(Quantize, KQuantRoundTripRmsError) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int n = 256 * 64;
  std::vector<float> x(n), y(n);
  for (float& v : x) v = dist(rng);
  struct Bound { DType type; double rms; };
  for (const Bound b : {Bound{DType::Q4_K, 0.09}, Bound{DType::Q5_K, 0.045}, Bound{DType::Q6_K, 0.02}}) {
    std::vector<uint8_t> packed(dtype_bytes(b.type, n));
    quantize_row(b.type, x.data(), packed.data(), n);
    dequantize_row(b.type, packed.data(), y.data(), n);
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += (y[i] - x[i]) * (y[i] - x[i]);
    const double rms = std::sqrt(sum / n);
    EXPECT_LT(rms, b.rms) << dtype_name(b.type);
    std::printf("%s: rms error %.4f sigma\n", std::string(dtype_name(b.type)).c_str(), rms);
  }
}

TEST(Quantize, KQuantZeroBlocksStayZero) {
  std::vector<float> x(256, 0.0f), y(256, 1.0f);
  for (DType type : {DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    std::vector<uint8_t> packed(dtype_bytes(type, 256));
    quantize_row(type, x.data(), packed.data(), 256);
    dequantize_row(type, packed.data(), y.data(), 256);
    for (float v : y) ASSERT_EQ(v, 0.0f) << dtype_name(type);
  }
}

// The activation quantizers of the tile kernels (kernels/act.h) round without the library call; they must
// give exactly what the reference (std::lround) gives, halves included: values built so x / d lands on
// k + 0.5, and on the floats just either side of it, for every k in [-127, 126].
TEST(ActivationQuantize, Q8_0AndQ8_KMatchLroundExactly) {
  std::vector<float> x(1024);
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = normal(rng);
  for (int k = -127; k < 127; ++k) {  // block 16 onwards: scale 1, so q = round(value); one 127 per block
    const size_t at = 512 + static_cast<size_t>(k + 127) % 256;
    const float half = static_cast<float>(k) + 0.5f;
    x[at] = (k % 3 == 0) ? half : (k % 3 == 1) ? std::nextafter(half, 200.0f) : std::nextafter(half, -200.0f);
  }
  for (size_t b = 512; b < 1024; b += 32) x[b + 31] = 127.0f;
  const int64_t cols = static_cast<int64_t>(x.size());

  std::vector<int8_t> qs(x.size());
  std::vector<float> d(x.size() / 32);
  std::vector<int32_t> sums(x.size() / 32);
  kernels::quantize_act_q8_0(x.data(), cols, qs.data(), d.data(), sums.data());
  std::vector<BlockQ8_0> ref_blocks(x.size() / 32);
  quantize_row_q8_0(x.data(), ref_blocks.data(), cols);
  for (size_t b = 0; b < ref_blocks.size(); ++b) {
    EXPECT_EQ(d[b], f16_to_f32(ref_blocks[b].d)) << b;
    int32_t s = 0;
    for (int j = 0; j < 32; ++j) {
      ASSERT_EQ(qs[b * 32 + j], ref_blocks[b].qs[j]) << "block " << b << " value " << x[b * 32 + j];
      s += ref_blocks[b].qs[j];
    }
    EXPECT_EQ(sums[b], s) << b;
  }

  std::vector<float> dk(x.size() / 256);
  std::vector<int16_t> bsums(x.size() / 16);
  kernels::quantize_act_q8_k(x.data(), cols, qs.data(), dk.data(), bsums.data());
  for (size_t b = 0; b < dk.size(); ++b) {
    const float* xb = x.data() + b * 256;
    float amax = 0.0f;
    for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(xb[i]));
    EXPECT_EQ(dk[b], amax / 127.0f);
    for (int i = 0; i < 256; ++i) {
      const long expected = std::clamp<long>(std::lround(xb[i] * (127.0f / amax)), -127, 127);
      ASSERT_EQ(qs[b * 256 + i], expected) << "super-block " << b << " value " << xb[i];
    }
  }
}

}  // namespace
}  // namespace whale::ref
