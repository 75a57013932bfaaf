// Finite-difference checks of the hand-written backward passes: for every parameter of tiny qwen2 and
// deepseek2 networks (embedding, RMSNorm gains, dense attention with biases, MLA with and without q LoRA,
// MoE router and experts, the MTP block, the output head), the analytic gradient of
//   L = -sum coef * log p + mtp_weight * MTP loss
// must match central differences of L.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "network_test_util.h"

namespace whale::train {
namespace {

using testing::tiny_deepseek2;
using testing::tiny_qwen2;

struct Problem {
  std::vector<std::vector<int32_t>> batch;
  std::vector<std::vector<float>> coef;
  float mtp_weight = 0.0f;
};

Problem make_problem(const ModelConfig& c, float mtp_weight) {
  std::mt19937 rng(7);
  Problem p;
  p.mtp_weight = mtp_weight;
  for (int len : {7, 4}) {
    std::vector<int32_t> seq;
    std::vector<float> coef;
    for (int t = 0; t < len; ++t) seq.push_back(static_cast<int32_t>(rng() % static_cast<uint32_t>(c.vocab_size)));
    for (int t = 0; t + 1 < len; ++t) coef.push_back(0.2f + 0.1f * static_cast<float>(rng() % 8));
    coef[0] = 0.0f;  // a prompt position: no loss there
    p.batch.push_back(seq);
    p.coef.push_back(coef);
  }
  return p;
}

// The loss at the current parameters (backward is run only for its returned MTP loss).
double loss(Network& net, const Problem& p) {
  const auto logp = net.forward(p.batch);
  double l = 0.0;
  for (size_t s = 0; s < logp.size(); ++s) {
    for (size_t t = 0; t < logp[s].size(); ++t) l -= static_cast<double>(p.coef[s][t]) * logp[s][t];
  }
  if (p.mtp_weight > 0.0f) l += static_cast<double>(p.mtp_weight) * net.backward(p.coef, p.mtp_weight);
  return l;
}

// Perturbs the biases and gains away from their initial 0 / 1 so that every term is exercised.
void randomize(Network& net) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (Parameter& p : net.parameters()) {
    const bool vector = p.shape.size() == 1;
    for (float& v : p.value) {
      if (vector) v += 0.3f * normal(rng);
    }
  }
}

// Checks every element of the parameters whose name contains one of `names`; returns how many were checked.
int check(Network& net, const Problem& p, const std::vector<std::string>& names) {
  net.zero_grad();
  net.forward(p.batch);
  net.backward(p.coef, p.mtp_weight);
  std::vector<std::vector<float>> analytic;
  for (const Parameter& param : net.parameters()) analytic.push_back(param.grad);
  int checked = 0;
  const double eps = 2e-3;
  for (size_t i = 0; i < net.parameters().size(); ++i) {
    Parameter& param = net.parameters()[i];
    bool wanted = false;
    for (const std::string& n : names) wanted |= param.name.find(n) != std::string::npos;
    if (!wanted || !param.trainable) continue;
    double diff2 = 0.0, norm2 = 0.0;
    for (size_t j = 0; j < param.value.size(); ++j) {
      const float saved = param.value[j];
      param.value[j] = saved + static_cast<float>(eps);
      const double up = loss(net, p);
      param.value[j] = saved - static_cast<float>(eps);
      const double down = loss(net, p);
      param.value[j] = saved;
      const double numeric = (up - down) / (2.0 * eps);
      const double a = analytic[i][j];
      diff2 += (numeric - a) * (numeric - a);
      norm2 += std::max(numeric * numeric, a * a);
      EXPECT_NEAR(a, numeric, 3e-3 + 0.03 * std::abs(numeric)) << param.name << "[" << j << "]";
    }
    EXPECT_GT(norm2, 1e-10) << param.name << ": gradient is zero, the check would be vacuous";
    EXPECT_LT(std::sqrt(diff2 / std::max(norm2, 1e-20)), 0.01) << param.name;
    ++checked;
  }
  return checked;
}

TEST(GradientTest, DenseEmbeddingNormsAttentionFfnAndTiedHead) {
  Network net = Network::create(tiny_qwen2(), 3);
  randomize(net);
  const Problem p = make_problem(net.config(), 0.0f);
  EXPECT_EQ(check(net, p, {"token_embd"}), 1);
  EXPECT_EQ(check(net, p, {"norm.weight"}), 5);
  EXPECT_EQ(check(net, p, {"attn_q", "attn_k", "attn_v", "attn_output"}), 14);
  EXPECT_EQ(check(net, p, {"ffn_"}), 8);  // gate, up, down, norm of 2 blocks
}

TEST(GradientTest, DenseUntiedHead) {
  Network net = Network::create(tiny_qwen2(), 4, false);
  randomize(net);
  const Problem p = make_problem(net.config(), 0.0f);
  ASSERT_NE(net.find("output.weight"), nullptr);
  EXPECT_EQ(check(net, p, {"output.weight", "token_embd", "output_norm"}), 5);  // + the attn_output ones
}

TEST(GradientTest, MlaWithoutQLora) {
  Network net = Network::create(tiny_deepseek2(false, false), 5);
  randomize(net);
  const Problem p = make_problem(net.config(), 0.0f);
  EXPECT_EQ(
      check(net, p, {"attn_q.", "attn_kv_a_mqa", "attn_kv_a_norm", "attn_k_b", "attn_v_b", "attn_output", "attn_norm"}),
      14);
}

TEST(GradientTest, MlaWithQLora) {
  Network net = Network::create(tiny_deepseek2(true, false), 6);
  randomize(net);
  const Problem p = make_problem(net.config(), 0.0f);
  EXPECT_EQ(check(net, p, {"attn_q_a", "attn_q_b"}), 6);
}

TEST(GradientTest, MoeRouterRoutedAndSharedExperts) {
  Network net = Network::create(tiny_deepseek2(false, false), 8);
  randomize(net);
  const Problem p = make_problem(net.config(), 0.0f);
  EXPECT_EQ(check(net, p, {"ffn_gate_inp", "_exps", "_shexp", "ffn_norm"}), 9);
  // The score-correction bias steers the selection only and gets no gradient.
  Parameter* bias = net.find("blk.1.exp_probs_b.bias");
  ASSERT_NE(bias, nullptr);
  EXPECT_FALSE(bias->trainable);
  for (float g : bias->grad) EXPECT_EQ(g, 0.0f);
}

TEST(GradientTest, MtpBlockAndSharedEmbeddingAndHead) {
  Network net = Network::create(tiny_deepseek2(true, true), 9);
  randomize(net);
  const Problem p = make_problem(net.config(), 0.7f);
  EXPECT_EQ(check(net, p, {"nextn."}), 3);
  EXPECT_EQ(check(net, p, {"blk.2."}), 20);  // every trainable tensor of the MTP block
  // "output.weight" also matches the three attn_output weights.
  EXPECT_EQ(check(net, p, {"token_embd", "output.weight", "output_norm", "blk.0.attn_kv_a_mqa"}), 7);
}

TEST(GradientTest, BackwardAccumulatesAndZeroGradClears) {
  Network net = Network::create(tiny_qwen2(), 3);
  const Problem p = make_problem(net.config(), 0.0f);
  net.zero_grad();
  net.forward(p.batch);
  net.backward(p.coef);
  const std::vector<float> once = net.parameters()[0].grad;
  net.forward(p.batch);
  net.backward(p.coef);
  for (size_t i = 0; i < once.size(); ++i) EXPECT_NEAR(net.parameters()[0].grad[i], 2 * once[i], 1e-6);
  net.zero_grad();
  for (float g : net.parameters()[0].grad) EXPECT_EQ(g, 0.0f);
}

}  // namespace
}  // namespace whale::train
