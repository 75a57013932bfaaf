// Rotary embedding: rotation layouts (NeoX halves, interleaved pairs) and the frequency scalings (linear,
// YaRN, Llama 3) against double-precision formulas written from their papers / model configs.
#include "kernels/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

namespace whale {
namespace {

RopeConfig base_config(int64_t dims, double theta) {
  RopeConfig c;
  c.dimension_count = dims;
  c.theta = theta;
  return c;
}

TEST(Rope, NeoxAndInterleavedRotateTheRightPairs) {
  const int64_t head = 10, dims = 8, pos = 7;
  std::vector<float> x(2 * head);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.1f * static_cast<float>(i) - 0.7f;
  for (RopeType type : {RopeType::Neox, RopeType::Normal}) {
    RopeConfig c = base_config(dims, 10000.0);
    c.type = type;
    Rope rope(c);
    std::vector<float> cos(dims / 2), sin(dims / 2), y = x;
    rope.angles(pos, cos.data(), sin.data());
    apply_rope(y.data(), 2, head, dims, type, cos.data(), sin.data());
    for (int64_t h = 0; h < 2; ++h) {
      const float* in = x.data() + h * head;
      const float* out = y.data() + h * head;
      for (int64_t i = 0; i < dims / 2; ++i) {
        const double angle = pos * std::pow(10000.0, -2.0 * i / dims);
        const int64_t a = type == RopeType::Neox ? i : 2 * i;
        const int64_t b = type == RopeType::Neox ? i + dims / 2 : 2 * i + 1;
        EXPECT_NEAR(out[a], in[a] * std::cos(angle) - in[b] * std::sin(angle), 1e-6);
        EXPECT_NEAR(out[b], in[a] * std::sin(angle) + in[b] * std::cos(angle), 1e-6);
      }
      EXPECT_EQ(out[8], in[8]);  // past the rotated dims
      EXPECT_EQ(out[9], in[9]);
    }
  }
}

TEST(Rope, PositionZeroIsIdentity) {
  Rope rope(base_config(4, 10000.0));
  float cos[2], sin[2];
  rope.angles(0, cos, sin);
  EXPECT_FLOAT_EQ(cos[0], 1.0f);
  EXPECT_FLOAT_EQ(sin[1], 0.0f);
}

TEST(Rope, LinearScalingDividesFrequencies) {
  RopeConfig c = base_config(16, 10000.0);
  c.scaling = RopeScaling::Linear;
  c.factor = 4.0;
  Rope rope(c);
  for (int64_t i = 0; i < 8; ++i) EXPECT_NEAR(rope.frequencies()[i], std::pow(10000.0, -2.0 * i / 16) / 4.0, 1e-15);
}

TEST(Rope, YarnDeepSeekV3) {
  // DeepSeek-V3: qk_rope_head_dim 64, base 10000, factor 40, original context 4096, beta_fast 32, beta_slow 1.
  // The ramp runs between pair floor(c(32)) and ceil(c(1)), c(b) = d ln(L / (2 pi b)) / (2 ln base).
  RopeConfig c = base_config(64, 10000.0);
  c.type = RopeType::Normal;
  c.scaling = RopeScaling::Yarn;
  c.factor = 40.0;
  c.original_context_length = 4096;
  Rope rope(c);
  const double low = std::floor(64 * std::log(4096 / (2 * std::numbers::pi * 32)) / (2 * std::log(10000.0)));
  const double high = std::ceil(64 * std::log(4096 / (2 * std::numbers::pi * 1)) / (2 * std::log(10000.0)));
  ASSERT_EQ(low, 10.0);
  ASSERT_EQ(high, 23.0);
  for (int64_t i = 0; i < 32; ++i) {
    const double f = std::pow(10000.0, -2.0 * i / 64);
    const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);  // 0: keep, 1: interpolate
    const double want = f * (1 - ramp) + f / 40.0 * ramp;
    EXPECT_NEAR(rope.frequencies()[i], want, 1e-12 * f) << i;
  }
  EXPECT_NEAR(rope.mscale(), 1 + 0.1 * std::log(40.0), 1e-12);
  // An attention factor scales the magnitude (DeepSeek passes one that cancels YaRN's).
  Rope cancelled(c, {}, 1.0 / (1 + 0.1 * std::log(40.0)));
  EXPECT_NEAR(cancelled.mscale(), 1.0, 1e-12);
}

TEST(Rope, Llama3ScalingAndFreqFactorsTensor) {
  // Llama 3.1 / R1-Distill-Llama: factor 8, low_freq_factor 1, high_freq_factor 4, original context 8192.
  RopeConfig c = base_config(128, 500000.0);
  c.type = RopeType::Normal;
  c.scaling = RopeScaling::Llama3;
  c.factor = 8.0;
  c.low_freq_factor = 1.0;
  c.high_freq_factor = 4.0;
  c.original_context_length = 8192;
  Rope rope(c);
  std::vector<float> divisors(64);
  int kept = 0, scaled = 0, blended = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const double f = std::pow(500000.0, -2.0 * i / 128);
    const double wavelen = 2 * std::numbers::pi / f;
    double want;
    if (wavelen < 8192.0 / 4.0) {
      want = f, ++kept;
    } else if (wavelen > 8192.0 / 1.0) {
      want = f / 8.0, ++scaled;
    } else {
      const double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
      want = (1 - smooth) * f / 8.0 + smooth * f, ++blended;
    }
    EXPECT_NEAR(rope.frequencies()[i], want, 1e-12 * f) << i;
    divisors[i] = static_cast<float>(f / want);
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(scaled, 0);
  EXPECT_GT(blended, 0);
  // llama.cpp's files carry the divisors as rope_freqs.weight; the result is the same.
  RopeConfig plain = c;
  plain.scaling = RopeScaling::None;
  Rope from_tensor(plain, divisors);
  for (int64_t i = 0; i < 64; ++i) EXPECT_NEAR(from_tensor.frequencies()[i], rope.frequencies()[i], 1e-6 * rope.frequencies()[i]);
}

}  // namespace
}  // namespace whale
