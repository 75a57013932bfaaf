// Rotary position embedding: frequencies with scaling, and the rotation (see rope.h).
#include "kernels/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace whale {
namespace {

// Llama 3 (the "llama3" rope_type of HF configs): long wavelengths are interpolated by `factor`, short ones
// kept, and a smooth blend in between. Returns the divisor of pair frequency `freq`.
double llama3_divisor(const RopeConfig& c, double freq) {
  const double wavelen = 2.0 * std::numbers::pi / freq;
  const double old_context = static_cast<double>(c.original_context_length);
  const double low_freq_wavelen = old_context / c.low_freq_factor;
  const double high_freq_wavelen = old_context / c.high_freq_factor;
  if (wavelen < high_freq_wavelen) return 1.0;
  if (wavelen > low_freq_wavelen) return c.factor;
  const double smooth = (old_context / wavelen - c.low_freq_factor) / (c.high_freq_factor - c.low_freq_factor);
  return 1.0 / ((1.0 - smooth) / c.factor + smooth);
}

// YaRN's correction range: the pair index at which the wavelength makes `rotations` full turns over the
// original context.
double yarn_corr_dim(double dims, double original_context, double rotations, double base) {
  return dims * std::log(original_context / (rotations * 2.0 * std::numbers::pi)) / (2.0 * std::log(base));
}

}  // namespace

Rope::Rope(const RopeConfig& config, std::span<const float> freq_factors, double attn_factor) {
  WHALE_ASSERT(config.dimension_count > 0 && config.dimension_count % 2 == 0);
  WHALE_ASSERT(freq_factors.empty() || static_cast<int64_t>(freq_factors.size()) == config.dimension_count / 2);
  dims_ = config.dimension_count;
  type_ = config.type;
  mscale_ = attn_factor;
  const int64_t pairs = dims_ / 2;
  freq_.resize(static_cast<size_t>(pairs));
  const double d = static_cast<double>(dims_);

  double low = 0.0, high = 0.0;
  if (config.scaling == RopeScaling::Yarn) {
    const double ctx = static_cast<double>(config.original_context_length);
    low = std::max(0.0, std::floor(yarn_corr_dim(d, ctx, config.yarn_beta_fast, config.theta)));
    high = std::min(d - 1.0, std::ceil(yarn_corr_dim(d, ctx, config.yarn_beta_slow, config.theta)));
    mscale_ *= 1.0 + 0.1 * std::log(config.factor);
  }
  for (int64_t i = 0; i < pairs; ++i) {
    double f = std::pow(config.theta, -2.0 * static_cast<double>(i) / d);
    if (!freq_factors.empty()) {
      f /= static_cast<double>(freq_factors[static_cast<size_t>(i)]);
    } else if (config.scaling == RopeScaling::Llama3) {
      f /= llama3_divisor(config, f);
    }
    switch (config.scaling) {
      case RopeScaling::None:
      case RopeScaling::Llama3:
        break;
      case RopeScaling::Linear:
        f /= config.factor;
        break;
      case RopeScaling::Yarn: {
        // Pairs below `low` keep their frequency (extrapolate), pairs above `high` are interpolated.
        const double y = (static_cast<double>(i) - low) / std::max(0.001, high - low);
        const double extrapolate = 1.0 - std::clamp(y, 0.0, 1.0);
        f *= (1.0 - extrapolate) / config.factor + extrapolate;
        break;
      }
    }
    freq_[static_cast<size_t>(i)] = f;
  }
}

void Rope::angles(int64_t pos, float* cos_out, float* sin_out) const {
  const double p = static_cast<double>(pos);
  for (size_t i = 0; i < freq_.size(); ++i) {
    const double a = p * freq_[i];
    cos_out[i] = static_cast<float>(std::cos(a) * mscale_);
    sin_out[i] = static_cast<float>(std::sin(a) * mscale_);
  }
}

void apply_rope(float* x, int64_t heads, int64_t head_stride, int64_t dims, RopeType type, const float* cos,
                const float* sin) {
  const int64_t half = dims / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* v = x + h * head_stride;
    if (type == RopeType::Normal) {
      for (int64_t i = 0; i < half; ++i) {
        const float a = v[2 * i], b = v[2 * i + 1];
        v[2 * i] = a * cos[i] - b * sin[i];
        v[2 * i + 1] = a * sin[i] + b * cos[i];
      }
    } else {
      for (int64_t i = 0; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * cos[i] - b * sin[i];
        v[i + half] = a * sin[i] + b * cos[i];
      }
    }
  }
}

}  // namespace whale
