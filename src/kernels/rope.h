// Rotary position embedding: the configuration (as llama.cpp's metadata describes it), the per-pair
// frequencies with linear / YaRN / Llama-3 scaling, and the rotation itself.
//
// Pair i (0 <= i < dims/2) of a head rotates by angle pos * freq[i], freq[i] = theta^(-2i/dims) adjusted by
// the scaling, and cos/sin are multiplied by a magnitude `mscale` (YaRN's attention factor; 1 otherwise).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace whale {

// How rotary embedding pairs dimensions inside a head.
//   Normal: interleaved pairs (x[2i], x[2i+1]), the GPT-J layout. llama.cpp uses it for llama (whose q/k
//           weights its converter permutes from the HF layout) and for deepseek2.
//   Neox:   halves (x[i], x[i + dims/2]). qwen2 and qwen3.
enum class RopeType { Normal, Neox };

enum class RopeScaling { None, Linear, Yarn, Llama3 };

struct RopeConfig {
  RopeType type = RopeType::Neox;
  double theta = 10000.0;          // {arch}.rope.freq_base
  int64_t dimension_count = 0;     // {arch}.rope.dimension_count: rotated dims per head (<= head dim)
  RopeScaling scaling = RopeScaling::None;  // {arch}.rope.scaling.type ("none", "linear", "yarn", "llama3")
  double factor = 1.0;             // {arch}.rope.scaling.factor (or legacy {arch}.rope.scale_linear)
  int64_t original_context_length = 0;  // {arch}.rope.scaling.original_context_length
  // YaRN (DeepSeek-V2/V3). llama.cpp stores yarn_log_multiplier = 0.1 * mscale_all_dim.
  double yarn_beta_fast = 32.0;    // {arch}.rope.scaling.yarn_beta_fast
  double yarn_beta_slow = 1.0;     // {arch}.rope.scaling.yarn_beta_slow
  double yarn_log_multiplier = 0.0;  // {arch}.rope.scaling.yarn_log_multiplier
  // Llama-3 frequency scaling. llama.cpp's conversion stores the result as the tensor rope_freqs.weight
  // (one divisor per dim pair) instead of metadata; models use that tensor when present, else these
  // ({arch}.rope.scaling.low_freq_factor / high_freq_factor, with scaling type "llama3").
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
};

// Precomputed per-pair frequencies for one RopeConfig.
class Rope {
 public:
  Rope() = default;
  // `freq_factors` (optional, dims/2 values): llama.cpp's rope_freqs tensor; freq[i] is divided by it and
  // the config's own Llama-3 parameters are then not applied. `attn_factor` multiplies mscale, as
  // llama.cpp's attn_factor does (DeepSeek-V2/V3 pass a value that cancels YaRN's magnitude scaling).
  explicit Rope(const RopeConfig& config, std::span<const float> freq_factors = {}, double attn_factor = 1.0);

  int64_t dims() const { return dims_; }
  RopeType type() const { return type_; }
  double mscale() const { return mscale_; }
  std::span<const double> frequencies() const { return freq_; }

  // cos/sin (times mscale) of every pair at `pos`; each array holds dims()/2 floats.
  void angles(int64_t pos, float* cos_out, float* sin_out) const;

 private:
  int64_t dims_ = 0;
  RopeType type_ = RopeType::Neox;
  double mscale_ = 1.0;
  std::vector<double> freq_;
};

// Rotates the first `dims` values of each of `heads` heads of x (head h at x + h * head_stride) with the
// cos/sin of one position (from Rope::angles). Values past `dims` in each head are left alone.
void apply_rope(float* x, int64_t heads, int64_t head_stride, int64_t dims, RopeType type, const float* cos,
                const float* sin);

}  // namespace whale
