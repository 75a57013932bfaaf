// Token sampling (see sampler.h).
#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace whale {
namespace {

// Most distributions put nearly all their mass on a few hundred tokens; sorting only those is exact
// whenever their mass already reaches top_p, and a full sort is the fallback.
constexpr size_t kTopPrefix = 1024;

int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  }
  return best;
}

}  // namespace

void validate_sampler_options(const SamplerOptions& o) {
  if (!(o.temperature >= 0.0f) || !std::isfinite(o.temperature)) {
    fail("temperature: expected a number >= 0, got {}", o.temperature);
  }
  if (o.top_k < 0) fail("top_k: expected a number >= 0, got {}", o.top_k);
  if (!(o.top_p > 0.0f && o.top_p <= 1.0f)) fail("top_p: expected a number in (0, 1], got {}", o.top_p);
  if (!(o.min_p >= 0.0f && o.min_p <= 1.0f)) fail("min_p: expected a number in [0, 1], got {}", o.min_p);
  if (!(o.repetition_penalty > 0.0f) || !std::isfinite(o.repetition_penalty)) {
    fail("repetition_penalty: expected a number > 0, got {}", o.repetition_penalty);
  }
  if (!std::isfinite(o.presence_penalty)) {
    fail("presence_penalty: expected a finite number, got {}", o.presence_penalty);
  }
  if (!std::isfinite(o.frequency_penalty)) {
    fail("frequency_penalty: expected a finite number, got {}", o.frequency_penalty);
  }
  if (o.penalty_last_n < -1) fail("penalty_last_n: expected -1 (all) or a count >= 0, got {}", o.penalty_last_n);
}

Sampler::Sampler(const SamplerOptions& options, int64_t vocab_size)
    : options_(options),
      vocab_size_(vocab_size),
      rng_(options.seed),
      counts_(static_cast<size_t>(vocab_size), 0),
      candidates_(static_cast<size_t>(vocab_size)) {
  WHALE_ASSERT(vocab_size > 0);
  validate_sampler_options(options);
}

void Sampler::reseed(uint64_t seed) { rng_.seed(seed); }

void Sampler::apply_penalties(std::span<float> logits, std::span<const int32_t> history) {
  const SamplerOptions& o = options_;
  if (o.repetition_penalty == 1.0f && o.presence_penalty == 0.0f && o.frequency_penalty == 0.0f) return;
  size_t window = history.size();
  if (o.penalty_last_n >= 0) window = std::min(window, static_cast<size_t>(o.penalty_last_n));
  std::span<const int32_t> recent = history.subspan(history.size() - window);
  for (int32_t id : recent) {
    if (id >= 0 && id < vocab_size_) ++counts_[static_cast<size_t>(id)];
  }
  for (int32_t id : recent) {
    if (id < 0 || id >= vocab_size_) continue;
    int32_t& count = counts_[static_cast<size_t>(id)];
    if (count == 0) continue;  // already applied for an earlier occurrence
    float& l = logits[static_cast<size_t>(id)];
    l = l > 0.0f ? l / o.repetition_penalty : l * o.repetition_penalty;
    l -= o.presence_penalty + o.frequency_penalty * static_cast<float>(count);
    count = 0;
  }
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  WHALE_ASSERT(static_cast<int64_t>(logits.size()) == vocab_size_);
  apply_penalties(logits, history);
  const SamplerOptions& o = options_;
  if (o.temperature == 0.0f || o.top_k == 1) return argmax(logits);

  // Probabilities at the temperature, unnormalized: exp((l - max) / T).
  const float max = logits[static_cast<size_t>(argmax(logits))];
  const float inv_t = 1.0f / o.temperature;
  for (size_t i = 0; i < logits.size(); ++i) {
    candidates_[i] = {std::exp((logits[i] - max) * inv_t), static_cast<int32_t>(i)};
  }
  size_t n = candidates_.size();
  auto by_prob = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) total += candidates_[i].logit;

  // Sort the head of the distribution: top_k of it, or enough to cover top_p.
  size_t sorted = n;
  if (o.top_k > 0) sorted = std::min(n, static_cast<size_t>(o.top_k));
  else if (o.top_p < 1.0f || o.min_p > 0.0f) sorted = std::min(n, kTopPrefix);
  std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<ptrdiff_t>(sorted), candidates_.end(),
                    by_prob);
  if (o.top_k == 0 && sorted < n && o.top_p < 1.0f) {
    double head = 0.0;
    for (size_t i = 0; i < sorted; ++i) head += candidates_[i].logit;
    if (head < o.top_p * total) {
      std::sort(candidates_.begin(), candidates_.end(), by_prob);
      sorted = n;
    }
  }
  if (o.top_k > 0) {
    n = sorted;
    total = 0.0;
    for (size_t i = 0; i < n; ++i) total += candidates_[i].logit;
  }
  if (o.top_p < 1.0f) {
    double cumulative = 0.0;
    size_t keep = 0;
    while (keep < n) {
      cumulative += candidates_[keep].logit;
      ++keep;
      if (cumulative >= o.top_p * total) break;
    }
    n = keep;
  }
  if (o.min_p > 0.0f) {
    // candidates_[0] is the most probable token (sorted head).
    const float threshold = o.min_p * candidates_[0].logit;
    if (n > sorted && candidates_[sorted - 1].logit >= threshold) {
      std::sort(candidates_.begin(), candidates_.end(), by_prob);
      sorted = n;
    }
    size_t keep = 1;
    while (keep < n && keep < sorted && candidates_[keep].logit >= threshold) ++keep;
    n = keep;
  }
  double mass = 0.0;
  for (size_t i = 0; i < n; ++i) mass += candidates_[i].logit;
  // A uniform draw from 53 random bits: identical on every platform for a given seed.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * mass;
  double cumulative = 0.0;
  for (size_t i = 0; i < n; ++i) {
    cumulative += candidates_[i].logit;
    if (u < cumulative) return candidates_[i].id;
  }
  return candidates_[n - 1].id;
}

}  // namespace whale
