// Sampler: picks the next token from logits. Greedy when temperature is 0; otherwise, in this order (the
// order of Hugging Face's generate, which DeepSeek's recommended settings assume):
//   penalties (repetition, presence, frequency over the last penalty_last_n tokens) -> temperature ->
//   top-k -> top-p -> min-p -> a draw from the remaining probabilities.
// The random stream comes from `seed` only, so the same seed, settings and logits give the same tokens.
// Buffers are sized once for the vocabulary; sample() allocates nothing.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace whale {

struct SamplerOptions {
  float temperature = 1.0f;         // 0: greedy (argmax)
  int32_t top_k = 0;                // 0: off
  float top_p = 1.0f;               // 1: off
  float min_p = 0.0f;               // 0: off; keeps tokens with p >= min_p * p_max
  float repetition_penalty = 1.0f;  // 1: off; CTRL-style: positive logits divided, negative multiplied
  float presence_penalty = 0.0f;    // subtracted once from every token seen
  float frequency_penalty = 0.0f;   // subtracted per occurrence
  int32_t penalty_last_n = 64;      // how many recent tokens the penalties look at (-1: all)
  uint64_t seed = 0;
};

// Throws whale::Error naming the option when a value is out of range (negative temperature, top_p outside
// (0, 1], ...). Used where options enter (CLI flags, API requests).
void validate_sampler_options(const SamplerOptions& options);

class Sampler {
 public:
  Sampler(const SamplerOptions& options, int64_t vocab_size);

  const SamplerOptions& options() const { return options_; }
  // Restarts the random stream from `seed`.
  void reseed(uint64_t seed);

  // Chooses a token. `logits` (vocab_size floats) is modified in place (penalties, temperature); `history`
  // is the sequence so far (prompt and generated tokens) for the penalties.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);

 private:
  void apply_penalties(std::span<float> logits, std::span<const int32_t> history);

  SamplerOptions options_;
  int64_t vocab_size_;
  std::mt19937_64 rng_;
  std::vector<int32_t> counts_;   // [vocab] occurrences in the penalty window; zeroed after use
  struct Candidate {
    float logit;
    int32_t id;
  };
  std::vector<Candidate> candidates_;  // [vocab]
};

}  // namespace whale
