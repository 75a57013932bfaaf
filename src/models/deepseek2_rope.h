// Rotary embedding and attention temperature of DeepSeek-V2/V3's MLA. RoPE applies to the qk_rope_head_dim
// part of each query head and to the one shared key k_pe, as interleaved pairs (x[2i], x[2i+1]), with
// YaRN-scaled frequencies (kernels/rope.h computes them).
//
// DeepSeek's YaRN differs from plain YaRN in where the temperature goes: the rotated values are scaled by
// mscale(s, mscale) / mscale(s, mscale_all_dim) (1 for every released model) and the softmax scale becomes
// m^2 / sqrt(qk_nope + qk_rope) with m = mscale(s, mscale_all_dim) = 0.1 * mscale_all_dim * ln(s) + 1.
// GGUF stores rope.scaling.yarn_log_multiplier = 0.1 * mscale_all_dim and no separate mscale; like
// llama.cpp, whale then takes mscale = mscale_all_dim. A file without the multiplier gets plain YaRN (cos
// and sin scaled by 0.1 ln(s) + 1 and that factor squared in the softmax scale), as llama.cpp does.
#pragma once

#include "kernels/rope.h"
#include "models/config.h"

namespace whale {

struct Deepseek2RopeScaling {
  // Passed to Rope as llama.cpp's attn_factor: it cancels the magnitude plain YaRN gives cos and sin.
  double attn_factor = 1.0;
  // Multiplies q.k in the attention softmax.
  float softmax_scale = 1.0f;
};

Deepseek2RopeScaling deepseek2_rope_scaling(const ModelConfig& config);
// The rotary embedding of q_pe and k_pe (config.rope with DeepSeek's attn_factor).
Rope deepseek2_rope(const ModelConfig& config);

}  // namespace whale
