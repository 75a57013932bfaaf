// Trainable networks against the inference engine and as training machinery: the exported GGUF loaded by
// whale's load_model gives the logits (and MTP logits) Network computes; Network::load reads it back; a short
// run on a repeated sequence drives the loss down; results do not depend on the thread count; bad input fails
// with whale::Error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/model_source.h"
#include "models/deepseek2.h"
#include "models/model.h"
#include "network_test_util.h"

namespace whale::train {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;
using testing::tiny_deepseek2;
using testing::tiny_qwen2;

std::vector<int32_t> sequence(int64_t vocab, int n, int salt) {
  std::vector<int32_t> s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<int32_t>((i * 7 + salt * 3 + i * i) % vocab));
  return s;
}

// Moves the parameters off their initial values so the comparison is not of a special point.
void perturb(Network& net) {
  uint32_t state = 12345;
  for (Parameter& p : net.parameters()) {
    for (float& v : p.value) {
      state = state * 1664525u + 1013904223u;
      v += 0.05f * (static_cast<float>(state >> 8) / 16777216.0f - 0.5f);
    }
  }
}

struct Engine {
  ThreadPool pool{2};
  std::unique_ptr<Model> model;
  explicit Engine(const std::string& path) {
    auto source = std::make_shared<const ModelSource>(ModelSource::open(path));
    LoadOptions options;
    options.pool = &pool;
    options.max_batch_tokens = 64;
    model = load_model(source, options);
  }
};

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0.0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]));
  return m;
}

class Qwen2ExportTest : public ::testing::TestWithParam<bool> {};

TEST_P(Qwen2ExportTest, LogitsMatchTheEngine) {
  ScratchDir dir("qwen2-export");
  Network net = Network::create(tiny_qwen2(), 21, GetParam());
  EXPECT_EQ(net.find("output.weight") == nullptr, GetParam());
  perturb(net);
  const std::vector<int32_t> tokens = sequence(net.config().vocab_size, 11, 1);
  const std::vector<float> ours = net.logits(tokens);
  save_gguf(net, "", "", dir.file("m.gguf"));
  Engine engine(dir.file("m.gguf"));
  auto cache = engine.model->create_cache(32);
  std::vector<float> theirs(tokens.size() * static_cast<size_t>(net.config().vocab_size));
  engine.model->forward(tokens, 0, *cache, theirs);
  EXPECT_LT(max_abs_diff(ours, theirs), 1e-4);
  // The logits spread, so the comparison means something.
  float lo = ours[0], hi = ours[0];
  for (float v : ours) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_GT(hi - lo, 0.5f);

  // Network::load gives back the same network.
  Network back = Network::load(dir.file("m.gguf"));
  EXPECT_EQ(back.parameter_count(), net.parameter_count());
  EXPECT_LT(max_abs_diff(back.logits(tokens), ours), 1e-6);
  EXPECT_EQ(back.find("output.weight") == nullptr, GetParam());
}

INSTANTIATE_TEST_SUITE_P(TiedAndUntied, Qwen2ExportTest, ::testing::Bool());

TEST(NetworkExportTest, Deepseek2WithMtpLogitsMatchTheEngine) {
  ScratchDir dir("ds-export");
  Network net = Network::create(tiny_deepseek2(true, true), 22);
  perturb(net);
  const std::vector<int32_t> tokens = sequence(net.config().vocab_size, 13, 2);
  const int64_t vocab = net.config().vocab_size;
  const auto n = static_cast<int64_t>(tokens.size());
  const std::vector<float> ours = net.logits(tokens);
  const std::vector<float> ours_mtp = net.mtp_logits(tokens);
  ASSERT_EQ(static_cast<int64_t>(ours_mtp.size()), (n - 1) * vocab);
  save_gguf(net, "", "", dir.file("m.gguf"));
  Engine engine(dir.file("m.gguf"));
  auto* ds = dynamic_cast<Deepseek2Model*>(engine.model.get());
  ASSERT_NE(ds, nullptr);
  ASSERT_TRUE(ds->has_mtp());
  for (MlaMode mode : {MlaMode::Absorbed, MlaMode::Unabsorbed}) {
    ds->set_mla_mode(mode);
    auto cache = ds->create_cache(32);
    std::vector<float> theirs(static_cast<size_t>(n * vocab));
    ds->forward(tokens, 0, *cache, theirs);
    EXPECT_LT(max_abs_diff(ours, theirs), 1e-4);
    const std::span<const float> hidden = ds->hidden_states();
    std::vector<float> h(hidden.begin(), hidden.begin() + (n - 1) * net.config().hidden_size);
    std::vector<int32_t> next(tokens.begin() + 1, tokens.end());
    std::vector<float> theirs_mtp(static_cast<size_t>((n - 1) * vocab));
    ds->mtp_forward(h, next, 0, *cache, theirs_mtp);
    EXPECT_LT(max_abs_diff(ours_mtp, theirs_mtp), 1e-4);
  }
}

TEST(NetworkExportTest, Q8_0ExportLoadsAndStaysClose) {
  ScratchDir dir("q8");
  ModelConfig c = tiny_deepseek2(false, true);
  c.hidden_size = 32;  // Q8_0 needs rows of a multiple of 32
  c.kv_lora_rank = 32;
  c.expert_feed_forward_length = 32;
  c.feed_forward_length = 32;
  c = with_mla_derived_fields(c);
  Network net = Network::create(c, 23);
  const std::vector<int32_t> tokens = sequence(c.vocab_size, 9, 3);
  save_gguf(net, "", "", dir.file("q8.gguf"), DType::Q8_0);
  const ModelSource source = ModelSource::open(dir.file("q8.gguf"));
  EXPECT_EQ(source.tensor("blk.1.ffn_up_exps.weight").dtype, DType::Q8_0);
  EXPECT_EQ(source.tensor("blk.1.attn_kv_a_norm.weight").dtype, DType::F32);
  Network back = Network::load(dir.file("q8.gguf"));
  EXPECT_LT(max_abs_diff(back.logits(tokens), net.logits(tokens)),
            0.15);  // Q8_0 rounds weights to ~1/256 of a block's range
}

// Mean cross-entropy over every next-token position of a batch of one repeated sequence.
TEST(NetworkTrainingTest, ShortRunOnARepeatedSequenceLowersTheLoss) {
  for (const ModelConfig& c : {tiny_qwen2(), tiny_deepseek2(false, true)}) {
    Network net = Network::create(c, 31);
    AdamW opt(net, 0.9f, 0.95f, 1e-8f, 0.0f);
    const std::vector<std::vector<int32_t>> batch{sequence(c.vocab_size, 16, 5)};
    const std::vector<std::vector<float>> coef{std::vector<float>(15, 1.0f / 15)};
    float first = 0.0f, last = 0.0f;
    for (int step = 0; step < 60; ++step) {
      const auto logp = net.forward(batch);
      float loss = 0.0f;
      for (float v : logp[0]) loss -= v / 15;
      if (step == 0) first = loss;
      last = loss;
      net.zero_grad();
      net.backward(coef);
      net.clip_grad_norm(1.0f);
      net.update_expert_bias(1e-3f);
      opt.step(cosine_lr(step, 5, 60, 3e-2f, 3e-3f));
    }
    EXPECT_NEAR(first, std::log(static_cast<float>(c.vocab_size)), 1.0) << c.arch;
    EXPECT_LT(last, 0.25f * first) << c.arch << ": " << first << " -> " << last;
  }
}

TEST(NetworkTrainingTest, SameSeedSameResultsAtAnyThreadCount) {
  std::vector<float> reference;
  for (int threads : {1, 2, 3}) {
    Network net = Network::create(tiny_deepseek2(true, true), 41);
    net.set_threads(threads);
    AdamW opt(net);
    const std::vector<std::vector<int32_t>> batch{sequence(11, 12, 1), sequence(11, 7, 2)};
    const std::vector<std::vector<float>> coef{std::vector<float>(11, 0.1f), std::vector<float>(6, 0.1f)};
    for (int step = 0; step < 3; ++step) {
      net.forward(batch);
      net.zero_grad();
      net.backward(coef);
      net.update_expert_bias(1e-3f);
      opt.step(1e-2f);
    }
    std::vector<float> all;
    for (const Parameter& p : net.parameters()) all.insert(all.end(), p.value.begin(), p.value.end());
    const auto logp = net.forward(batch);
    all.insert(all.end(), logp[0].begin(), logp[0].end());
    if (reference.empty()) {
      reference = all;
    } else {
      ASSERT_EQ(all.size(), reference.size());
      for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], reference[i]) << "threads " << threads << " at " << i;
    }
  }
  Network a = Network::create(tiny_qwen2(), 5), b = Network::create(tiny_qwen2(), 5),
          c = Network::create(tiny_qwen2(), 6);
  EXPECT_EQ(a.parameters()[0].value, b.parameters()[0].value);
  EXPECT_NE(a.parameters()[0].value, c.parameters()[0].value);
}

TEST(NetworkTrainingTest, ExpertBiasMovesAgainstTheLoad) {
  Network net = Network::create(tiny_deepseek2(false, false), 3);
  const std::vector<std::vector<int32_t>> batch{sequence(11, 20, 4)};
  net.forward(batch);
  const std::vector<float> before = net.find("blk.1.exp_probs_b.bias")->value;
  net.update_expert_bias(0.01f);
  const std::vector<float> after = net.find("blk.1.exp_probs_b.bias")->value;
  // 20 tokens x 2 experts over 4 experts: mean load 10; above-mean experts go down, below-mean up.
  int moved = 0;
  for (size_t e = 0; e < after.size(); ++e) {
    const float d = after[e] - before[e];
    EXPECT_TRUE(std::abs(std::abs(d) - 0.01f) < 1e-6f || d == 0.0f);
    moved += d != 0.0f;
  }
  EXPECT_GT(moved, 0);
}

TEST(NetworkInputTest, BadBatchesAndFilesFail) {
  Network net = Network::create(tiny_qwen2(), 1);
  EXPECT_THROW(net.forward({}), Error);
  EXPECT_THROW(net.forward({{1}}), Error);
  EXPECT_THROW(net.forward({{1, 99}}), Error);
  EXPECT_THROW(net.forward({{1, -1}}), Error);
  net.forward({{1, 2, 3}});
  EXPECT_THROW(net.backward({{1.0f}}), Error);
  EXPECT_THROW(net.backward({{1.0f, 1.0f}, {1.0f}}), Error);
  EXPECT_THROW(net.set_threads(0), Error);
  EXPECT_THROW(net.mtp_logits({1, 2}), Error);
  ScratchDir dir("bad");
  EXPECT_THROW(Network::load(dir.file("missing.gguf")), Error);
  { std::ofstream(dir.file("junk.gguf")) << "not a gguf file at all"; }
  EXPECT_THROW(Network::load(dir.file("junk.gguf")), Error);
  ModelConfig llama = tiny_qwen2();
  llama.arch = "llama";
  try {
    Network::create(llama, 1);
    ADD_FAILURE() << "llama is not trainable";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("qwen2, deepseek2"));
  }
  EXPECT_THROW(save_gguf(net, "", "", dir.file("x.gguf"), DType::Q4_K), Error);
}

TEST(PresetTest, ShippedShapesAndSizes) {
  const Network nano = Network::create(train_preset("nano-r1", 600), 1);
  const Network distill = Network::create(train_preset("nano-r1-distill", 600), 1);
  EXPECT_EQ(nano.config().arch, "deepseek2");
  EXPECT_EQ(nano.config().nextn_predict_layers, 1);
  EXPECT_EQ(distill.config().arch, "qwen2");
  EXPECT_LT(3 * distill.parameter_count(), nano.parameter_count());
  // Q8_0 stores 34 bytes per 32 weights: the shipped file stays under 8 MB.
  EXPECT_LT(nano.parameter_count() * 34 / 32, 8'000'000);
  EXPECT_THROW(train_preset("nano-r2", 600), Error);
  EXPECT_THROW(train_preset("nano-r1", 0), Error);
}

}  // namespace
}  // namespace whale::train
