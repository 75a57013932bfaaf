// DeepSeekMoE routing against hand-computed cases and a plain double-precision reference written from the
// DeepSeek-V2 / V3 papers: softmax vs sigmoid gates, the selection-only score bias, group-limited top-k,
// norm_topk_prob, routed_scaling_factor and ties.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "models/deepseek2_moe.h"

namespace whale {
namespace {

struct Routed {
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

Routed run(const RouterConfig& config, const std::vector<float>& logits, const std::vector<float>& bias = {}) {
  RouterScratch scratch(config);
  Routed out{std::vector<int32_t>(config.experts_per_token), std::vector<float>(config.experts_per_token)};
  route(config, logits, bias, scratch, out.ids, out.weights);
  return out;
}

// The paper's procedure in double precision, with every choice made by a full stable sort.
Routed reference(const RouterConfig& c, const std::vector<float>& logits, const std::vector<float>& bias) {
  const size_t n = logits.size();
  std::vector<double> p(n);
  if (c.gating == ExpertGating::Sigmoid) {
    for (size_t i = 0; i < n; ++i) p[i] = 1.0 / (1.0 + std::exp(-static_cast<double>(logits[i])));
  } else {
    double z = 0.0;
    for (size_t i = 0; i < n; ++i) z += std::exp(static_cast<double>(logits[i]));
    for (size_t i = 0; i < n; ++i) p[i] = std::exp(static_cast<double>(logits[i])) / z;
  }
  std::vector<double> s(n);
  for (size_t i = 0; i < n; ++i) s[i] = p[i] + (bias.empty() ? 0.0 : bias[i]);

  std::vector<bool> allowed(n, true);
  if (c.group_count > 1) {
    const size_t gs = n / c.group_count;
    std::vector<double> score(c.group_count);
    for (int64_t g = 0; g < c.group_count; ++g) {
      std::vector<double> v(s.begin() + g * gs, s.begin() + (g + 1) * gs);
      std::sort(v.begin(), v.end(), std::greater<>());
      score[g] = (c.group_scoring == GroupScoring::SumTop2 && v.size() >= 2) ? v[0] + v[1] : v[0];
    }
    std::vector<int64_t> order(c.group_count);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return score[a] > score[b]; });
    std::vector<bool> kept(c.group_count, false);
    for (int64_t r = 0; r < c.group_used_count; ++r) kept[order[r]] = true;
    for (size_t i = 0; i < n; ++i) allowed[i] = kept[i / gs];
  }
  std::vector<int32_t> order;
  for (size_t i = 0; i < n; ++i)
    if (allowed[i]) order.push_back(static_cast<int32_t>(i));
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return s[a] > s[b]; });
  Routed out;
  double sum = 0.0;
  for (int64_t r = 0; r < c.experts_per_token; ++r) sum += p[order[r]];
  for (int64_t r = 0; r < c.experts_per_token; ++r) {
    out.ids.push_back(order[r]);
    const double w = c.normalize ? p[order[r]] / sum : p[order[r]];
    out.weights.push_back(static_cast<float>(w * c.scale));
  }
  return out;
}

float logit_of(double p) { return static_cast<float>(std::log(p / (1.0 - p))); }

RouterConfig v3_like(int64_t experts, int64_t k, int64_t groups, int64_t groups_used) {
  RouterConfig c;
  c.expert_count = experts;
  c.experts_per_token = k;
  c.group_count = groups;
  c.group_used_count = groups_used;
  c.gating = ExpertGating::Sigmoid;
  c.normalize = true;
  c.scale = 2.5f;
  return c;
}

TEST(Deepseek2Routing, GroupLimitExcludesTheBestSingleExpert) {
  // Groups of two: {0.9, 0.1} sums to 1.0, {0.6, 0.6} to 1.2, {0.55, 0.55} to 1.1, {0.2, 0.2} to 0.4.
  // With two groups kept (the sums 1.2 and 1.1) expert 0, the best single one, cannot be chosen.
  const std::vector<double> p = {0.9, 0.1, 0.6, 0.6, 0.55, 0.55, 0.2, 0.2};
  std::vector<float> logits;
  for (double v : p) logits.push_back(logit_of(v));
  RouterConfig c = v3_like(8, 3, 4, 2);
  c.normalize = false;
  c.scale = 1.0f;
  Routed r = run(c, logits);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{2, 3, 4}));  // 0.6, 0.6 (lower index first), then 0.55
  EXPECT_NEAR(r.weights[0], 0.6f, 1e-6f);
  EXPECT_NEAR(r.weights[2], 0.55f, 1e-6f);

  // DeepSeek-V2's group score (the best expert of a group) keeps groups 0 and 1 instead.
  c.group_scoring = GroupScoring::Max;
  r = run(c, logits);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 2, 3}));

  // Without a group limit the top three are 0, 2, 3.
  c.group_count = 1;
  c.group_used_count = 1;
  r = run(c, logits);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 2, 3}));
}

TEST(Deepseek2Routing, BiasSteersSelectionButNotWeights) {
  const std::vector<double> p = {0.8, 0.7, 0.3, 0.2};
  std::vector<float> logits;
  for (double v : p) logits.push_back(logit_of(v));
  RouterConfig c = v3_like(4, 2, 1, 1);
  c.normalize = false;
  c.scale = 1.0f;
  // A bias of +0.55 lifts expert 3 (0.2 + 0.55 = 0.75) above expert 1 (0.7) but below expert 0 (0.8).
  const std::vector<float> bias = {0.0f, 0.0f, 0.0f, 0.55f};
  Routed r = run(c, logits, bias);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 3}));
  EXPECT_NEAR(r.weights[0], 0.8f, 1e-6f);
  EXPECT_NEAR(r.weights[1], 0.2f, 1e-6f);  // the unbiased probability
}

TEST(Deepseek2Routing, NormalizationThenScaling) {
  const std::vector<double> p = {0.8, 0.7, 0.3, 0.2};
  std::vector<float> logits;
  for (double v : p) logits.push_back(logit_of(v));
  RouterConfig c = v3_like(4, 2, 1, 1);  // norm_topk_prob, routed_scaling_factor 2.5
  Routed r = run(c, logits);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 1}));
  EXPECT_NEAR(r.weights[0], 2.5f * 0.8f / 1.5f, 1e-6f);
  EXPECT_NEAR(r.weights[1], 2.5f * 0.7f / 1.5f, 1e-6f);
  EXPECT_NEAR(r.weights[0] + r.weights[1], 2.5f, 1e-6f);
}

TEST(Deepseek2Routing, SoftmaxGreedyV2Lite) {
  // V2-Lite: softmax over all 4 experts, top 2, no renormalization, scale 1.
  RouterConfig c;
  c.expert_count = 4;
  c.experts_per_token = 2;
  c.gating = ExpertGating::Softmax;
  const std::vector<float> logits = {0.0f, std::log(3.0f), std::log(2.0f), std::log(4.0f)};  // weights 1:3:2:4
  Routed r = run(c, logits);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{3, 1}));
  EXPECT_NEAR(r.weights[0], 0.4f, 1e-6f);
  EXPECT_NEAR(r.weights[1], 0.3f, 1e-6f);
  c.scale = 16.0f;  // DeepSeek-V2's routed_scaling_factor
  r = run(c, logits);
  EXPECT_NEAR(r.weights[0], 6.4f, 1e-5f);
}

TEST(Deepseek2Routing, TiesGoToTheLowerIndex) {
  RouterConfig c = v3_like(8, 3, 4, 2);
  const std::vector<float> logits(8, 0.25f);  // every expert and group ties
  Routed r = run(c, logits);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 1, 2}));  // groups 0 and 1 are kept
  for (float w : r.weights) EXPECT_NEAR(w, 2.5f / 3.0f, 1e-6f);
}

TEST(Deepseek2Routing, MatchesDoubleReferenceOnRandomRouters) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  struct Shape {
    int64_t experts, k, groups, used;
  };
  const Shape shapes[] = {{64, 6, 1, 1}, {256, 8, 8, 4}, {16, 4, 4, 2}, {32, 3, 8, 3}, {12, 2, 3, 1}};
  int cases = 0;
  for (const Shape& shape : shapes) {
    for (ExpertGating gating : {ExpertGating::Softmax, ExpertGating::Sigmoid}) {
      for (GroupScoring scoring : {GroupScoring::SumTop2, GroupScoring::Max}) {
        for (int trial = 0; trial < 20; ++trial) {
          RouterConfig c = v3_like(shape.experts, shape.k, shape.groups, shape.used);
          c.gating = gating;
          c.group_scoring = scoring;
          c.normalize = trial % 2 == 0;
          c.scale = trial % 3 == 0 ? 1.0f : 2.5f;
          std::vector<float> logits(shape.experts), bias;
          for (float& v : logits) v = normal(rng);
          if (trial % 4 < 2) {
            bias.resize(shape.experts);
            for (float& v : bias) v = 0.1f * normal(rng);
          }
          const Routed got = run(c, logits, bias);
          const Routed want = reference(c, logits, bias);
          ASSERT_EQ(got.ids, want.ids) << "experts " << shape.experts << " trial " << trial;
          for (size_t i = 0; i < got.weights.size(); ++i) {
            EXPECT_NEAR(got.weights[i], want.weights[i], 1e-5f * std::max(1.0f, std::fabs(want.weights[i])));
          }
          ++cases;
        }
      }
    }
  }
  EXPECT_EQ(cases, 400);
}

}  // namespace
}  // namespace whale
