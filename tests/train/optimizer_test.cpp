// AdamW against a step computed by hand, the warmup + cosine schedule, gradient clipping, and checkpoints
// that resume bit-identically (the same losses as a run that was never interrupted) and reject bad files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "core/error.h"
#include "network_test_util.h"

namespace whale::train {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;
using testing::tiny_deepseek2;
using testing::tiny_qwen2;

TEST(AdamWTest, TwoStepsMatchTheHandComputedUpdate) {
  Network net = Network::create(tiny_qwen2(), 1);
  Parameter& w = *net.find("blk.0.attn_q.weight");     // decayed
  Parameter& g = *net.find("blk.0.attn_norm.weight");  // not decayed
  const float lr = 0.01f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
  AdamW opt(net, b1, b2, eps, wd);
  const float w0 = w.value[0], g0 = g.value[0];
  net.zero_grad();
  w.grad[0] = 0.5f;
  g.grad[0] = -2.0f;
  opt.step(lr);
  // Step 1: m = 0.1 g, v = 0.05 g^2, m_hat = g, v_hat = g^2 -> update lr * sign(g) (up to eps).
  EXPECT_NEAR(w.value[0], w0 * (1 - lr * wd) - lr * 0.5 / (0.5 + eps), 1e-7);
  EXPECT_NEAR(g.value[0], g0 + lr * 2.0 / (2.0 + eps), 1e-7);
  // Step 2 with gradient 0.25: m = 0.9*0.05 + 0.1*0.25 = 0.07, v = 0.95*0.0125 + 0.05*0.0625 = 0.015;
  // m_hat = 0.07 / 0.19, v_hat = 0.015 / 0.0975.
  const double w1 = w.value[0];
  w.grad[0] = 0.25f;
  g.grad[0] = 0.0f;
  opt.step(lr);
  const double m_hat = 0.07 / 0.19, v_hat = 0.015 / 0.0975;
  EXPECT_NEAR(w.value[0], w1 * (1 - lr * wd) - lr * m_hat / (std::sqrt(v_hat) + eps), 1e-6);
  EXPECT_EQ(opt.steps(), 2);
  // Parameters with zero gradient and no decay stay put (momentum aside): norm g moved by its momentum only.
  const double mg = 0.9 * 0.1 * -2.0, vg = 0.95 * 0.05 * 4.0;
  EXPECT_NEAR(g.value[0], g0 + lr * 2.0 / (2.0 + eps) - lr * (mg / 0.19) / (std::sqrt(vg / 0.0975) + eps), 1e-6);
}

TEST(ScheduleTest, WarmupThenCosineToTheFloor) {
  EXPECT_FLOAT_EQ(cosine_lr(0, 10, 110, 1.0f, 0.1f), 0.1f);  // (0 + 1) / 10 of the peak
  EXPECT_FLOAT_EQ(cosine_lr(9, 10, 110, 1.0f, 0.1f), 1.0f);
  EXPECT_FLOAT_EQ(cosine_lr(10, 10, 110, 1.0f, 0.1f), 1.0f);
  EXPECT_NEAR(cosine_lr(60, 10, 110, 1.0f, 0.1f), 0.55f, 1e-6);  // halfway: floor + (peak - floor) / 2
  EXPECT_FLOAT_EQ(cosine_lr(110, 10, 110, 1.0f, 0.1f), 0.1f);
  EXPECT_FLOAT_EQ(cosine_lr(500, 10, 110, 1.0f, 0.1f), 0.1f);
  EXPECT_FLOAT_EQ(cosine_lr(0, 0, 100, 2.0f, 0.0f), 2.0f);
}

TEST(ClipTest, ScalesToTheMaxNormAndReportsTheNormBefore) {
  Network net = Network::create(tiny_qwen2(), 1);
  net.zero_grad();
  net.parameters()[0].grad[0] = 3.0f;
  net.parameters()[1].grad[0] = 4.0f;
  EXPECT_FLOAT_EQ(net.clip_grad_norm(1.0f), 5.0f);
  EXPECT_NEAR(net.parameters()[0].grad[0], 0.6f, 1e-6);
  EXPECT_NEAR(net.parameters()[1].grad[0], 0.8f, 1e-6);
  EXPECT_NEAR(net.clip_grad_norm(10.0f), 1.0f, 1e-6);  // under the limit: unchanged
  EXPECT_NEAR(net.parameters()[0].grad[0], 0.6f, 1e-6);
}

// Runs `steps` steps of a fixed data schedule from `start`, returning the losses.
std::vector<float> run(Network& net, AdamW& opt, int64_t start, int64_t steps) {
  std::vector<float> losses;
  for (int64_t step = start; step < start + steps; ++step) {
    std::vector<int32_t> seq;
    for (int i = 0; i < 10; ++i) seq.push_back(static_cast<int32_t>((step * 3 + i * i) % net.config().vocab_size));
    const auto logp = net.forward({seq});
    float loss = 0.0f;
    for (float v : logp[0]) loss -= v / 9;
    losses.push_back(loss);
    net.zero_grad();
    net.backward({std::vector<float>(9, 1.0f / 9)});
    net.clip_grad_norm(1.0f);
    net.update_expert_bias(1e-3f);
    opt.step(cosine_lr(step, 2, 8, 1e-2f, 1e-3f));
  }
  return losses;
}

TEST(CheckpointTest, ResumeIsBitIdentical) {
  ScratchDir dir("ckpt");
  const ModelConfig c = tiny_deepseek2(true, true);
  Network straight = Network::create(c, 77);
  AdamW straight_opt(straight);
  const std::vector<float> expected = run(straight, straight_opt, 0, 8);

  Network first = Network::create(c, 77);
  AdamW first_opt(first);
  run(first, first_opt, 0, 4);
  save_checkpoint(dir.file("c.ckpt"), first, first_opt, 4, std::string("rng\0state", 9));

  Network resumed = Network::create(c, 1);  // other initial weights: everything must come from the file
  AdamW resumed_opt(resumed);
  std::string blob;
  EXPECT_EQ(load_checkpoint(dir.file("c.ckpt"), resumed, resumed_opt, blob), 4);
  EXPECT_EQ(blob, std::string("rng\0state", 9));
  EXPECT_EQ(resumed_opt.steps(), 4);
  const std::vector<float> after = run(resumed, resumed_opt, 4, 4);
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i], expected[4 + i]) << "step " << 4 + i;
  for (size_t i = 0; i < straight.parameters().size(); ++i) {
    EXPECT_EQ(resumed.parameters()[i].value, straight.parameters()[i].value) << straight.parameters()[i].name;
  }
}

TEST(CheckpointTest, BadFilesFailWithoutTouchingTheNetwork) {
  ScratchDir dir("ckpt-bad");
  Network net = Network::create(tiny_qwen2(), 1);
  AdamW opt(net);
  std::string blob;
  EXPECT_THROW(load_checkpoint(dir.file("none.ckpt"), net, opt, blob), Error);
  { std::ofstream(dir.file("junk.ckpt")) << "GGUF but not really"; }
  EXPECT_THROW(load_checkpoint(dir.file("junk.ckpt"), net, opt, blob), Error);
  // A model file is not a checkpoint.
  save_gguf(net, "", "", dir.file("model.gguf"));
  try {
    load_checkpoint(dir.file("model.gguf"), net, opt, blob);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("general.type"));
  }
  // A checkpoint of another model.
  Network other = Network::create(tiny_deepseek2(false, false), 1);
  AdamW other_opt(other);
  save_checkpoint(dir.file("other.ckpt"), other, other_opt, 3, "");
  const std::vector<float> before = net.parameters()[0].value;
  try {
    load_checkpoint(dir.file("other.ckpt"), net, opt, blob);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("another model"));
  }
  EXPECT_EQ(net.parameters()[0].value, before);
  // A truncated checkpoint.
  save_checkpoint(dir.file("good.ckpt"), net, opt, 3, "x");
  {
    std::ifstream in(dir.file("good.ckpt"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir.file("cut.ckpt"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  EXPECT_THROW(load_checkpoint(dir.file("cut.ckpt"), net, opt, blob), Error);
  EXPECT_EQ(load_checkpoint(dir.file("good.ckpt"), net, opt, blob), 3);
}

}  // namespace
}  // namespace whale::train
