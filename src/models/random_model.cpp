// Deterministic random weights (see random_model.h).
#include "models/random_model.h"

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "kernels/rope.h"

namespace whale {
namespace {

// splitmix64: a small, well-mixed generator whose output is the same on every platform.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
};

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

// Fills `out` with standard normal values (Box-Muller, both outputs used).
void fill_normal(SplitMix64& rng, std::vector<float>& out, double scale, double offset) {
  for (size_t i = 0; i < out.size(); i += 2) {
    const double r = std::sqrt(-2.0 * std::log(rng.uniform()));
    const double a = 2.0 * std::numbers::pi * rng.uniform();
    out[i] = static_cast<float>(offset + scale * r * std::cos(a));
    if (i + 1 < out.size()) out[i + 1] = static_cast<float>(offset + scale * r * std::sin(a));
  }
}

// Values of `elements` entries of `spec` from the stream seeded by (seed, name, stream).
std::vector<float> draw(const TensorSpec& spec, uint64_t seed, uint64_t stream, int64_t elements) {
  std::vector<float> values(static_cast<size_t>(elements));
  SplitMix64 rng{seed * 0x9e3779b97f4a7c15ull ^ fnv1a(spec.name) ^ (stream * 0xd1b54a32d192ed03ull)};
  const double in = static_cast<double>(spec.shape.empty() ? 1 : spec.shape.back());
  switch (spec.kind) {
    case TensorKind::Matrix: {
      const double gain = spec.name == "output.weight" ? 4.0 : 1.0;
      fill_normal(rng, values, gain / std::sqrt(in), 0.0);
      break;
    }
    case TensorKind::Embedding: fill_normal(rng, values, 4.0 / std::sqrt(in), 0.0); break;
    case TensorKind::Norm: fill_normal(rng, values, 0.1, 1.0); break;
    case TensorKind::Bias: fill_normal(rng, values, 0.1, 0.0); break;
    case TensorKind::Other: fill_normal(rng, values, 0.02, 0.0); break;
  }
  return values;
}

bool is_expert_stack(const TensorSpec& spec) { return spec.shape.size() == 3 && spec.kind == TensorKind::Matrix; }

}  // namespace

std::vector<float> llama3_rope_freqs(const RopeConfig& rope) {
  RopeConfig plain = rope;
  plain.scaling = RopeScaling::None;
  const Rope base(plain);
  const Rope scaled(rope);
  std::vector<float> divisors(static_cast<size_t>(rope.dimension_count / 2));
  for (size_t i = 0; i < divisors.size(); ++i) {
    divisors[i] = static_cast<float>(base.frequencies()[i] / scaled.frequencies()[i]);
  }
  return divisors;
}

std::vector<float> random_expert(const ModelConfig& config, const TensorSpec& spec, uint64_t seed, int64_t e) {
  (void)config;  // part of the signature for symmetry with random_tensor
  WHALE_ASSERT(is_expert_stack(spec) && e >= 0 && e < spec.shape[0]);
  return draw(spec, seed, static_cast<uint64_t>(e) + 1, spec.shape[1] * spec.shape[2]);
}

std::vector<float> random_tensor(const ModelConfig& config, const TensorSpec& spec, uint64_t seed) {
  if (spec.name == "rope_freqs.weight") return llama3_rope_freqs(config.rope);
  if (is_expert_stack(spec)) {
    std::vector<float> all;
    all.reserve(static_cast<size_t>(spec.shape[0] * spec.shape[1] * spec.shape[2]));
    for (int64_t e = 0; e < spec.shape[0]; ++e) {
      std::vector<float> one = random_expert(config, spec, seed, e);
      all.insert(all.end(), one.begin(), one.end());
    }
    return all;
  }
  int64_t elements = 1;
  for (int64_t d : spec.shape) elements *= d;
  return draw(spec, seed, 0, elements);
}

}  // namespace whale
