// Sampler: greedy picks the argmax; the filters keep exactly the tokens their definitions keep (checked by
// drawing many samples from hand-made distributions); penalties follow their formulas; seeds reproduce.
#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "core/error.h"

namespace whale {
namespace {

// Logits whose softmax is exactly `probs`.
std::vector<float> logits_for(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(p > 0 ? static_cast<float>(std::log(p)) : -1e30f);
  return l;
}

std::map<int32_t, int> histogram(const SamplerOptions& o, const std::vector<double>& probs, int draws) {
  Sampler s(o, static_cast<int64_t>(probs.size()));
  std::map<int32_t, int> h;
  for (int i = 0; i < draws; ++i) {
    std::vector<float> l = logits_for(probs);
    ++h[s.sample(l, {})];
  }
  return h;
}

const std::vector<double> kProbs = {0.05, 0.4, 0.3, 0.15, 0.1};  // sorted: 1, 2, 3, 4, 0

TEST(Sampler, GreedyIsArgmax) {
  SamplerOptions o;
  o.temperature = 0;
  Sampler s(o, 5);
  std::vector<float> l = logits_for(kProbs);
  EXPECT_EQ(s.sample(l, {}), 1);
}

TEST(Sampler, TemperatureOneFollowsTheDistribution) {
  SamplerOptions o;
  o.seed = 1;
  auto h = histogram(o, kProbs, 20000);
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(h[i] / 20000.0, kProbs[i], 0.015) << i;
}

TEST(Sampler, TopKTopPMinPKeepTheRightTokens) {
  SamplerOptions o;
  o.seed = 2;
  o.top_k = 2;  // tokens 1, 2 renormalized: 4/7, 3/7
  auto h = histogram(o, kProbs, 10000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_NEAR(h[1] / 10000.0, 0.4 / 0.7, 0.02);

  o.top_k = 0;
  o.top_p = 0.8f;  // 0.4 + 0.3 = 0.7 < 0.8, + 0.15 = 0.85 >= 0.8: tokens 1, 2, 3
  h = histogram(o, kProbs, 10000);
  EXPECT_EQ((std::set<int32_t>{h.begin()->first, std::next(h.begin())->first, std::prev(h.end())->first}),
            (std::set<int32_t>{1, 2, 3}));
  EXPECT_EQ(h.size(), 3u);

  o.top_p = 1.0f;
  o.min_p = 0.3f;  // threshold 0.3 * 0.4 = 0.12: tokens 1, 2, 3
  h = histogram(o, kProbs, 10000);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.count(0) + h.count(4), 0u);
}

TEST(Sampler, LowTemperatureSharpens) {
  SamplerOptions o;
  o.seed = 3;
  o.temperature = 0.25f;  // p^4 normalized: token 1 gets 0.0256 / (0.0256 + 0.0081 + ...) ~ 0.73
  auto h = histogram(o, kProbs, 20000);
  double z = 0;
  for (double p : kProbs) z += std::pow(p, 4);
  EXPECT_NEAR(h[1] / 20000.0, std::pow(0.4, 4) / z, 0.015);
}

TEST(Sampler, PenaltiesFollowTheirFormulas) {
  SamplerOptions o;
  o.temperature = 0;
  o.repetition_penalty = 2.0f;
  o.presence_penalty = 0.5f;
  o.frequency_penalty = 0.25f;
  Sampler s(o, 4);
  std::vector<float> l = {4.0f, -1.0f, 3.0f, 0.0f};
  const std::vector<int32_t> history = {0, 0, 1, 3};
  s.sample(l, history);
  EXPECT_FLOAT_EQ(l[0], 4.0f / 2 - 0.5f - 0.25f * 2);  // 1.0
  EXPECT_FLOAT_EQ(l[1], -1.0f * 2 - 0.5f - 0.25f);     // -2.75
  EXPECT_FLOAT_EQ(l[2], 3.0f);                         // not in the history
  EXPECT_FLOAT_EQ(l[3], 0.0f - 0.5f - 0.25f);
  // The window: only the last token counts.
  o.penalty_last_n = 1;
  Sampler s2(o, 4);
  std::vector<float> l2 = {4.0f, -1.0f, 3.0f, 0.0f};
  EXPECT_EQ(s2.sample(l2, history), 0);
  EXPECT_FLOAT_EQ(l2[0], 4.0f);
}

TEST(Sampler, SameSeedSameTokens) {
  SamplerOptions o;
  o.seed = 42;
  o.top_p = 0.9f;
  std::vector<int32_t> a, b;
  for (auto* out : {&a, &b}) {
    Sampler s(o, 5);
    for (int i = 0; i < 50; ++i) {
      std::vector<float> l = logits_for(kProbs);
      out->push_back(s.sample(l, {}));
    }
  }
  EXPECT_EQ(a, b);
  o.seed = 43;
  Sampler other(o, 5);
  std::vector<int32_t> c;
  for (int i = 0; i < 50; ++i) {
    std::vector<float> l = logits_for(kProbs);
    c.push_back(other.sample(l, {}));
  }
  EXPECT_NE(a, c);
}

TEST(Sampler, TopPOverALargeVocabularyIsExact) {
  // 5000 equally likely tokens: the first 1024 do not reach top_p = 0.5, so the full sort must kick in and
  // most of the 2500 kept tokens appear.
  SamplerOptions o;
  o.seed = 5;
  o.top_p = 0.5f;
  Sampler s(o, 5000);
  std::set<int32_t> seen;
  for (int i = 0; i < 4000; ++i) {
    std::vector<float> l(5000, 0.0f);
    const int32_t id = s.sample(l, {});
    ASSERT_LT(id, 2500);  // ties break towards the lower id
    seen.insert(id);
  }
  EXPECT_GT(seen.size(), 1800u);  // 4000 draws from 2500: ~2000 distinct expected
}

TEST(Sampler, BadOptionsAreErrors) {
  SamplerOptions o;
  o.temperature = -1;
  EXPECT_THROW(validate_sampler_options(o), Error);
  o = {};
  o.top_p = 0;
  EXPECT_THROW(validate_sampler_options(o), Error);
  o = {};
  o.min_p = 2;
  EXPECT_THROW(validate_sampler_options(o), Error);
}

}  // namespace
}  // namespace whale
