// Random models: values depend only on (seed, tensor name), have the scales random_model.h promises, and the
// Llama-3 rope divisors follow the published formula; every preset yields a consistent tensor list.
#include "models/random_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "models/presets.h"

namespace whale {
namespace {

double mean(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s / static_cast<double>(v.size());
}

double stddev(const std::vector<float>& v) {
  const double m = mean(v);
  double s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}

TEST(RandomModel, DeterministicPerSeedAndNameWithPromisedScales) {
  ModelConfig c = *model_preset("qwen2", "tiny");
  const TensorSpec q{"blk.0.attn_q.weight", {64, 64}, TensorKind::Matrix};
  const TensorSpec k{"blk.0.attn_k.weight", {64, 64}, TensorKind::Matrix};
  EXPECT_EQ(random_tensor(c, q, 1), random_tensor(c, q, 1));
  EXPECT_NE(random_tensor(c, q, 1), random_tensor(c, q, 2));
  EXPECT_NE(random_tensor(c, q, 1), random_tensor(c, k, 1));
  const std::vector<float> w = random_tensor(c, {"blk.0.ffn_down.weight", {64, 1024}, TensorKind::Matrix}, 3);
  EXPECT_NEAR(mean(w), 0.0, 0.003);
  EXPECT_NEAR(stddev(w), 1.0 / 32.0, 0.002);  // 1 / sqrt(in_features)
  const std::vector<float> norm = random_tensor(c, {"output_norm.weight", {4096}, TensorKind::Norm}, 3);
  EXPECT_NEAR(mean(norm), 1.0, 0.01);
  EXPECT_NEAR(stddev(norm), 0.1, 0.01);
}

TEST(RandomModel, Llama3RopeFreqsFollowTheFormula) {
  ModelConfig c = *model_preset("llama", "r1-distill-llama-8b");
  const std::vector<float> f = llama3_rope_freqs(c.rope);
  ASSERT_EQ(f.size(), 64u);
  EXPECT_FLOAT_EQ(f[0], 1.0f);    // highest frequency: kept
  EXPECT_FLOAT_EQ(f[63], 8.0f);   // lowest frequency: divided by factor 8
  for (size_t i = 0; i < f.size(); ++i) {
    const double freq = std::pow(500000.0, -2.0 * static_cast<double>(i) / 128.0);
    const double wavelen = 2 * std::numbers::pi / freq;
    if (wavelen > 2048 && wavelen < 8192) {
      const double smooth = (8192 / wavelen - 1) / 3;
      EXPECT_NEAR(f[i], 1 / ((1 - smooth) / 8 + smooth), 1e-5) << i;
    }
  }
}

TEST(Presets, EveryPresetHasAConsistentTensorList) {
  for (const char* arch : {"llama", "qwen2", "qwen3", "deepseek2"}) {
    const std::vector<std::string> names = model_preset_names(arch);
    EXPECT_FALSE(names.empty()) << arch;
    for (const std::string& name : names) {
      std::optional<ModelConfig> c = model_preset(arch, name);
      ASSERT_TRUE(c.has_value()) << arch << " " << name;
      if (c->vocab_size == 0) c->vocab_size = 129280;
      uint64_t params = 0;
      for (const TensorSpec& spec : tensor_specs(*c)) {
        uint64_t n = 1;
        for (int64_t d : spec.shape) n *= static_cast<uint64_t>(d);
        if (spec.required) params += n;
      }
      EXPECT_GT(params, 0u) << arch << " " << name;
    }
  }
  // The real shapes are the published parameter counts (untied head included).
  ModelConfig q15 = *model_preset("qwen2", "r1-distill-qwen-1.5b");
  uint64_t params = 0;
  for (const TensorSpec& spec : tensor_specs(q15)) {
    if (spec.name == "rope_freqs.weight") continue;
    uint64_t n = 1;
    for (int64_t d : spec.shape) n *= static_cast<uint64_t>(d);
    params += n;
  }
  EXPECT_NEAR(static_cast<double>(params) / 1e9, 1.78, 0.01);
  EXPECT_FALSE(model_preset("qwen2", "no-such-preset").has_value());
}

}  // namespace
}  // namespace whale
