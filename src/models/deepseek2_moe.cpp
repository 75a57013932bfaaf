// DeepSeekMoE routing (see deepseek2_moe.h for the equations).
#include "models/deepseek2_moe.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace whale {

RouterConfig RouterConfig::from_model(const ModelConfig& config) {
  RouterConfig router;
  router.expert_count = config.expert_count;
  router.experts_per_token = config.experts_per_token;
  router.group_count = std::max<int64_t>(config.expert_group_count, 1);
  router.group_used_count = router.group_count > 1 ? config.expert_group_used_count : 1;
  router.group_scoring = GroupScoring::SumTop2;
  router.gating = config.expert_gating_func;
  router.normalize = config.expert_weights_norm;
  router.scale = static_cast<float>(config.expert_weights_scale);
  return router;
}

RouterScratch::RouterScratch(const RouterConfig& config)
    : probs(config.expert_count),
      selection(config.expert_count),
      allowed(config.expert_count),
      group_scores(config.group_count),
      group_kept(config.group_count),
      group_open(config.group_count) {}

namespace {

// Index of the largest value among the entries with eligible[i] != 0 (lowest index on ties); -1 if none.
int64_t argmax_eligible(std::span<const float> values, std::span<const uint8_t> eligible) {
  int64_t best = -1;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!eligible[i]) continue;
    if (best < 0 || values[i] > values[best]) best = static_cast<int64_t>(i);
  }
  return best;
}

}  // namespace

void route(const RouterConfig& config, std::span<const float> logits, std::span<const float> score_bias,
           RouterScratch& s, std::span<int32_t> expert_ids, std::span<float> expert_weights) {
  const int64_t n = config.expert_count;
  const int64_t k = config.experts_per_token;
  WHALE_ASSERT(static_cast<int64_t>(logits.size()) == n);
  WHALE_ASSERT(score_bias.empty() || static_cast<int64_t>(score_bias.size()) == n);
  WHALE_ASSERT(static_cast<int64_t>(expert_ids.size()) == k && static_cast<int64_t>(expert_weights.size()) == k);
  WHALE_ASSERT(config.group_count >= 1 && n % config.group_count == 0);

  // Gate probabilities.
  if (config.gating == ExpertGating::Sigmoid) {
    for (int64_t i = 0; i < n; ++i) s.probs[i] = 1.0f / (1.0f + std::exp(-logits[i]));
  } else {
    float max_logit = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) max_logit = std::max(max_logit, logits[i]);
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      s.probs[i] = std::exp(logits[i] - max_logit);
      sum += s.probs[i];
    }
    for (int64_t i = 0; i < n; ++i) s.probs[i] /= sum;
  }
  for (int64_t i = 0; i < n; ++i) s.selection[i] = s.probs[i] + (score_bias.empty() ? 0.0f : score_bias[i]);

  // Group limit: keep the group_used_count best groups.
  std::fill(s.allowed.begin(), s.allowed.end(), uint8_t{1});
  if (config.group_count > 1) {
    const int64_t group_size = n / config.group_count;
    for (int64_t g = 0; g < config.group_count; ++g) {
      const float* v = s.selection.data() + g * group_size;
      float best = -std::numeric_limits<float>::infinity();
      float second = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < group_size; ++i) {
        if (v[i] > best) {
          second = best;
          best = v[i];
        } else if (v[i] > second) {
          second = v[i];
        }
      }
      const bool sum_top2 = config.group_scoring == GroupScoring::SumTop2 && group_size >= 2;
      s.group_scores[g] = sum_top2 ? best + second : best;
    }
    std::fill(s.group_kept.begin(), s.group_kept.end(), uint8_t{0});
    std::fill(s.group_open.begin(), s.group_open.end(), uint8_t{1});
    for (int64_t r = 0; r < config.group_used_count; ++r) {
      const int64_t g = argmax_eligible(std::span<const float>(s.group_scores),
                                        std::span<const uint8_t>(s.group_open));
      WHALE_ASSERT(g >= 0);
      s.group_kept[g] = 1;
      s.group_open[g] = 0;
    }
    for (int64_t i = 0; i < n; ++i) s.allowed[i] = s.group_kept[i / group_size];
  }

  // Top-k experts among the allowed ones, by the biased score.
  float weight_sum = 0.0f;
  for (int64_t r = 0; r < k; ++r) {
    const int64_t e = argmax_eligible(std::span<const float>(s.selection), std::span<const uint8_t>(s.allowed));
    WHALE_ASSERT(e >= 0);
    s.allowed[e] = 0;
    expert_ids[r] = static_cast<int32_t>(e);
    expert_weights[r] = s.probs[e];
    weight_sum += s.probs[e];
  }
  if (config.normalize) {
    // The floor keeps an all-zero sigmoid underflow from dividing by zero (llama.cpp clamps the same way).
    const float denom = std::max(weight_sum, 6.103515625e-5f);
    for (int64_t r = 0; r < k; ++r) expert_weights[r] /= denom;
  }
  for (int64_t r = 0; r < k; ++r) expert_weights[r] *= config.scale;
}

}  // namespace whale
