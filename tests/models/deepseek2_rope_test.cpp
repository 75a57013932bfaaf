// The rotary embedding deepseek2 builds (kernels' Rope with DeepSeek's attn_factor) and its attention
// temperature, against a double-precision reference written from the YaRN paper and DeepSeek's published
// formulas (frequency ramp, mscale), plus the interleaved rotation of q_pe / k_pe.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "kernels/rope.h"
#include "models/deepseek2_rope.h"

namespace whale {
namespace {

ModelConfig v3_config() {
  ModelConfig c;
  c.arch = "deepseek2";
  c.context_length = 163840;
  c.qk_nope_head_dim = 128;
  c.qk_rope_head_dim = 64;
  c.rope.type = RopeType::Normal;
  c.rope.theta = 10000.0;
  c.rope.dimension_count = 64;
  c.rope.scaling = RopeScaling::Yarn;
  c.rope.factor = 40.0;
  c.rope.original_context_length = 4096;
  c.rope.yarn_beta_fast = 32.0;
  c.rope.yarn_beta_slow = 1.0;
  c.rope.yarn_log_multiplier = 0.1;  // 0.1 * mscale_all_dim (1.0)
  return c;
}

// DeepSeek's YaRN: inv_freq = freq_inter * (1 - mask) + freq_extra * mask with mask = 1 - ramp(low, high),
// low/high the floor/ceil of the correction dims for beta_fast / beta_slow, clamped to [0, dim - 1].
std::vector<double> reference_inv_freq(int64_t dim, double base, double factor, double original, double beta_fast,
                                       double beta_slow) {
  auto correction = [&](double rotations) {
    return dim * std::log(original / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base));
  };
  double low = std::max(std::floor(correction(beta_fast)), 0.0);
  double high = std::min(std::ceil(correction(beta_slow)), static_cast<double>(dim - 1));
  if (low == high) high += 0.001;
  std::vector<double> out;
  for (int64_t j = 0; j < dim / 2; ++j) {
    const double extra = 1.0 / std::pow(base, 2.0 * j / dim);
    const double inter = extra / factor;
    const double ramp = std::clamp((j - low) / (high - low), 0.0, 1.0);
    const double mask = 1.0 - ramp;
    out.push_back(inter * (1 - mask) + extra * mask);
  }
  return out;
}

double mscale(double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; }

TEST(Deepseek2Rope, YarnFrequenciesMatchReference) {
  const ModelConfig c = v3_config();
  const Rope rope = deepseek2_rope(c);
  const std::vector<double> want = reference_inv_freq(64, 10000.0, 40.0, 4096.0, 32.0, 1.0);
  ASSERT_EQ(rope.frequencies().size(), want.size());
  for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(rope.frequencies()[j] / want[j], 1.0, 1e-12) << j;
  // The ends of the ramp: the fastest pair keeps its frequency, the slowest is divided by the factor.
  EXPECT_DOUBLE_EQ(rope.frequencies()[0], 1.0);
  EXPECT_NEAR(rope.frequencies()[31], std::pow(10000.0, -62.0 / 64.0) / 40.0, 1e-15);
  // DeepSeek keeps cos/sin unscaled (the temperature goes into the softmax scale instead).
  EXPECT_NEAR(rope.mscale(), 1.0, 1e-12);
  EXPECT_EQ(rope.type(), RopeType::Normal);
}

TEST(Deepseek2Rope, SoftmaxScaleCarriesMscaleSquared) {
  ModelConfig c = v3_config();
  const double m = mscale(40.0, 1.0);  // 1 + 0.1 ln 40 = 1.3689
  EXPECT_NEAR(deepseek2_rope_scaling(c).softmax_scale, m * m / std::sqrt(192.0), 1e-6);

  // DeepSeek-V2-Lite: mscale = mscale_all_dim = 0.707.
  c.rope.yarn_log_multiplier = 0.0707;
  const double m2 = mscale(40.0, 0.707);
  EXPECT_NEAR(deepseek2_rope_scaling(c).softmax_scale, m2 * m2 / std::sqrt(192.0), 1e-6);
  EXPECT_NEAR(deepseek2_rope(c).mscale(), 1.0, 1e-12);

  // No multiplier in the file: plain YaRN, cos/sin and the softmax both carry mscale(s, 1).
  c.rope.yarn_log_multiplier = 0.0;
  EXPECT_NEAR(deepseek2_rope(c).mscale(), m, 1e-12);
  EXPECT_NEAR(deepseek2_rope_scaling(c).softmax_scale, m * m / std::sqrt(192.0), 1e-6);

  // No scaling: plain 1/sqrt(d) and the original frequencies.
  c.rope.scaling = RopeScaling::None;
  EXPECT_NEAR(deepseek2_rope_scaling(c).softmax_scale, 1.0 / std::sqrt(192.0), 1e-7);
  const Rope plain = deepseek2_rope(c);
  EXPECT_NEAR(plain.mscale(), 1.0, 1e-12);
  for (size_t j = 0; j < plain.frequencies().size(); ++j) {
    EXPECT_NEAR(plain.frequencies()[j], std::pow(10000.0, -2.0 * j / 64.0), 1e-15);
  }
}

TEST(Deepseek2Rope, InterleavedPairsRotateAsComplexNumbers) {
  ModelConfig c = v3_config();
  c.qk_rope_head_dim = 8;
  c.rope.dimension_count = 8;
  const Rope rope = deepseek2_rope(c);
  std::vector<float> x = {1.0f, 2.0f, -0.5f, 0.25f, 3.0f, -1.0f, 0.0f, 1.5f};
  const std::vector<float> original = x;
  const int64_t pos = 37;
  std::vector<float> cos(4), sin(4);
  rope.angles(pos, cos.data(), sin.data());
  apply_rope(x.data(), 1, 8, 8, rope.type(), cos.data(), sin.data());
  for (int j = 0; j < 4; ++j) {
    // (a + ib) * e^{i pos theta_j}
    const double angle = pos * rope.frequencies()[j];
    const double a = original[2 * j], b = original[2 * j + 1];
    EXPECT_NEAR(x[2 * j], a * std::cos(angle) - b * std::sin(angle), 1e-5);
    EXPECT_NEAR(x[2 * j + 1], a * std::sin(angle) + b * std::cos(angle), 1e-5);
  }
  // Position 0 is the identity.
  std::vector<float> y = original;
  rope.angles(0, cos.data(), sin.data());
  apply_rope(y.data(), 1, 8, 8, rope.type(), cos.data(), sin.data());
  EXPECT_EQ(y, original);
}

}  // namespace
}  // namespace whale
