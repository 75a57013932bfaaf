// Random-weight models for tests and benchmarks (`whale mkmodel`): every tensor of an architecture's spec
// filled with deterministic pseudo-random values, scaled so activations stay in a sane range through the
// layers and the logits spread enough that greedy decoding does not hinge on near-ties.
//
// Values depend only on (seed, tensor name), never on the order tensors are produced, so the same model
// written as GGUF and as a Hugging Face folder holds the same weights.
#pragma once

#include <cstdint>
#include <vector>

#include "models/config.h"
#include "models/model.h"

namespace whale {

// The f32 values of one tensor of `config`'s architecture:
//   Matrix    normal / sqrt(in_features) (output.weight: 4x that, so logits have a spread of a few units)
//   Embedding normal * 4 / sqrt(hidden)
//   Norm      1 + 0.1 * normal
//   Bias      0.1 * normal
//   Other     rope_freqs.weight: the Llama-3 divisors of config.rope; anything else 0.02 * normal
// Stacked expert tensors ({n_expert, rows, cols}) are drawn expert by expert, so one expert's slice can be
// produced alone (random_expert) without materializing the whole stack.
std::vector<float> random_tensor(const ModelConfig& config, const TensorSpec& spec, uint64_t seed);
// Expert `e` of a stacked 3-D spec: the values random_tensor puts at slice e.
std::vector<float> random_expert(const ModelConfig& config, const TensorSpec& spec, uint64_t seed, int64_t e);

// The Llama-3 rope divisors (rope_freqs.weight) for config.rope, as llama.cpp's converter computes them.
std::vector<float> llama3_rope_freqs(const RopeConfig& rope);

}  // namespace whale
