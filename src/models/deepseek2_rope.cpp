// Rotary embedding and attention temperature of DeepSeek-V2/V3 (see deepseek2_rope.h).
#include "models/deepseek2_rope.h"

#include <cmath>

namespace whale {
namespace {

// DeepSeek's yarn_get_mscale: the attention temperature for a context extension `scale`.
double yarn_mscale(double scale, double mscale) { return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

}  // namespace

Deepseek2RopeScaling deepseek2_rope_scaling(const ModelConfig& config) {
  const RopeConfig& rope = config.rope;
  const bool yarn = rope.scaling == RopeScaling::Yarn && rope.factor > 1.0;
  const double factor = yarn ? rope.factor : 1.0;
  const double mscale_all_dim = rope.yarn_log_multiplier / 0.1;
  // Magnitude of the rotated values: mscale(s, mscale_all_dim) / mscale(s, mscale_all_dim) = 1, or plain
  // YaRN's mscale(s, 1) for files without the multiplier.
  const double magnitude = (yarn && rope.yarn_log_multiplier == 0.0) ? yarn_mscale(factor, 1.0) : 1.0;
  Deepseek2RopeScaling s;
  // kernels' Rope multiplies cos/sin by attn_factor * mscale(s, 1) under YaRN, as ggml does.
  s.attn_factor = yarn ? magnitude / yarn_mscale(factor, 1.0) : 1.0;
  const double temperature = magnitude * yarn_mscale(factor, mscale_all_dim);
  const double head_dim = static_cast<double>(config.qk_nope_head_dim + config.qk_rope_head_dim);
  s.softmax_scale = static_cast<float>(temperature * temperature / std::sqrt(head_dim));
  return s;
}

Rope deepseek2_rope(const ModelConfig& config) {
  RopeConfig rope = config.rope;
  rope.type = RopeType::Normal;
  rope.dimension_count = config.qk_rope_head_dim;
  return Rope(rope, {}, deepseek2_rope_scaling(config).attn_factor);
}

}  // namespace whale
