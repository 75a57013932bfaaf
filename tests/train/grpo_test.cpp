// Tests of GRPO's math against hand-computed values and central finite differences of the objective.
#include "train/grpo.h"

#include <gtest/gtest.h>

#include <cmath>

namespace whale::train {
namespace {

TEST(Grpo, GroupAdvantagesHandComputed) {
  // rewards 0, 1, 1, 2: mean 1, population std sqrt(0.5).
  std::vector<float> r = {0, 1, 1, 2};
  std::vector<float> a = group_advantages(r);
  double s = std::sqrt(0.5) + 1e-4;
  EXPECT_NEAR(a[0], -1 / s, 1e-6);
  EXPECT_NEAR(a[1], 0, 1e-6);
  EXPECT_NEAR(a[3], 1 / s, 1e-6);
  // All equal: no signal.
  std::vector<float> same = {2, 2, 2};
  for (float v : group_advantages(same)) EXPECT_EQ(v, 0.0f);
  EXPECT_TRUE(group_advantages(std::vector<float>{}).empty());
}

TEST(Grpo, OnPolicyTermsHandComputed) {
  // new == old == ref: ratio 1, KL 0: J = A, dJ/dlogp = A / T.
  std::vector<float> lp = {-0.5f, -1.0f};
  GrpoTokenTerms t = grpo_token_terms(lp, lp, lp, 0.8f, 0.2f, 0.04f);
  EXPECT_NEAR(t.objective, 0.8, 1e-7);
  EXPECT_NEAR(t.coef[0], 0.4, 1e-7);
  EXPECT_NEAR(t.coef[1], 0.4, 1e-7);
}

TEST(Grpo, ClippedAndKlTermsHandComputed) {
  // One token, new - old = log 1.5 (ratio 1.5 > 1 + 0.2), A = 1: the clipped term 1.2 is the minimum, no policy
  // gradient. ref - new = -0.1: k3 = e^-0.1 + 0.1 - 1; its gradient is beta * (e^-0.1 - 1).
  float old_lp = -1.0f, new_lp = old_lp + std::log(1.5f), ref_lp = new_lp - 0.1f;
  double beta = 0.5;
  GrpoTokenTerms t = grpo_token_terms(std::vector<float>{new_lp}, std::vector<float>{old_lp},
                                      std::vector<float>{ref_lp}, 1.0f, 0.2f, static_cast<float>(beta));
  double k3 = std::exp(-0.1) + 0.1 - 1;
  EXPECT_NEAR(t.objective, 1.2 - beta * k3, 1e-6);
  EXPECT_NEAR(t.coef[0], beta * (std::exp(-0.1) - 1), 1e-6);
  // Negative advantage with ratio above the range: min picks the unclipped -1.5, which keeps its gradient.
  GrpoTokenTerms n = grpo_token_terms(std::vector<float>{new_lp}, std::vector<float>{old_lp},
                                      std::vector<float>{new_lp}, -1.0f, 0.2f, 0.0f);
  EXPECT_NEAR(n.objective, -1.5, 1e-6);
  EXPECT_NEAR(n.coef[0], -1.5, 1e-6);
  // Negative advantage with ratio below the range: the clipped -0.8 is smaller, gradient 0.
  GrpoTokenTerms m = grpo_token_terms(std::vector<float>{old_lp + std::log(0.5f)}, std::vector<float>{old_lp},
                                      std::vector<float>{old_lp}, -1.0f, 0.2f, 0.0f);
  EXPECT_NEAR(m.objective, -0.8, 1e-6);
  EXPECT_EQ(m.coef[0], 0.0f);
}

// A plain double-precision objective written from the formula, for finite differences.
double objective(const std::vector<double>& lp_new, const std::vector<double>& lp_old, const std::vector<double>& lp_ref,
                 double a, double eps, double beta) {
  double j = 0;
  for (size_t t = 0; t < lp_new.size(); ++t) {
    double r = std::exp(lp_new[t] - lp_old[t]);
    double rc = std::min(std::max(r, 1 - eps), 1 + eps);
    double d = lp_ref[t] - lp_new[t];
    j += std::min(r * a, rc * a) - beta * (std::exp(d) - d - 1);
  }
  return j / static_cast<double>(lp_new.size());
}

TEST(Grpo, CoefficientsMatchFiniteDifferences) {
  std::vector<double> lp_new = {-0.3, -2.0, -1.1, -0.05, -4.0};
  std::vector<double> lp_old = {-0.35, -1.5, -1.1, -0.3, -3.9};   // ratios ~1.05, 0.61, 1, 1.28, 0.90
  std::vector<double> lp_ref = {-0.5, -2.2, -0.9, -0.1, -3.0};
  for (double a : {1.3, -0.7}) {
    std::vector<float> fn(lp_new.begin(), lp_new.end()), fo(lp_old.begin(), lp_old.end()), fr(lp_ref.begin(), lp_ref.end());
    GrpoTokenTerms t = grpo_token_terms(fn, fo, fr, static_cast<float>(a), 0.2f, 0.1f);
    EXPECT_NEAR(t.objective, objective(lp_new, lp_old, lp_ref, a, 0.2, 0.1), 1e-5);
    for (size_t i = 0; i < lp_new.size(); ++i) {
      const double h = 1e-6;
      std::vector<double> up = lp_new, down = lp_new;
      up[i] += h;
      down[i] -= h;
      double fd = (objective(up, lp_old, lp_ref, a, 0.2, 0.1) - objective(down, lp_old, lp_ref, a, 0.2, 0.1)) / (2 * h);
      EXPECT_NEAR(t.coef[i], fd, 1e-5) << "token " << i << " A " << a;
    }
  }
}

}  // namespace
}  // namespace whale::train
