// The deepseek2 model on tiny random files: logits against a double-precision reference written from the
// papers, absorbed vs unabsorbed MLA, split vs unsplit kv_b, the MTP module, the latent cache and its limits.
#include <gtest/gtest.h>

#include <cstdio>

#include "core/error.h"
#include "deepseek2_fixture.h"
#include "deepseek2_reference.h"
#include "models/deepseek2.h"

namespace whale {
namespace {

using test::TinyDeepseek2;

const std::vector<int32_t> kTokens = {3, 17, 42, 5, 88, 61, 0, 29, 74, 11, 50, 23, 95, 8};

// Logits of every token: the first `prefill` in one call, the rest decoded one at a time.
std::vector<float> run_logits(Deepseek2Model& model, const std::vector<int32_t>& tokens, int64_t prefill) {
  const int64_t vocab = model.config().vocab_size;
  std::unique_ptr<KvCache> cache = model.create_cache(64);
  std::vector<float> logits(tokens.size() * static_cast<size_t>(vocab));
  model.forward(std::span<const int32_t>(tokens.data(), static_cast<size_t>(prefill)), 0, *cache,
                std::span<float>(logits.data(), static_cast<size_t>(prefill * vocab)));
  for (size_t t = static_cast<size_t>(prefill); t < tokens.size(); ++t) {
    model.forward(std::span<const int32_t>(&tokens[t], 1), static_cast<int64_t>(t), *cache,
                  std::span<float>(logits.data() + t * vocab, static_cast<size_t>(vocab)));
  }
  EXPECT_EQ(cache->length(), static_cast<int64_t>(tokens.size()));
  return logits;
}

std::vector<float> flatten(const std::vector<test::Vec>& rows) {
  std::vector<float> out;
  for (const test::Vec& r : rows) out.insert(out.end(), r.begin(), r.end());
  return out;
}

class Deepseek2Presets : public testing::TestWithParam<const char*> {};

TEST_P(Deepseek2Presets, MatchesDoubleReference) {
  const ModelConfig config = test::tiny_config(GetParam());
  TinyDeepseek2 tiny(config, DType::F32);
  const std::vector<float> got = run_logits(*tiny.model, kTokens, 9);
  std::vector<test::Vec> logits, hidden;
  test::Deepseek2Reference(*tiny.source, config).forward(kTokens, logits, hidden);
  const float diff = test::max_abs_diff(got, flatten(logits));
  std::printf("[%s] whale (absorbed, f32) vs double reference: max |logit diff| = %.3g\n", GetParam(), diff);
  EXPECT_LT(diff, 1e-3f);
}

TEST_P(Deepseek2Presets, AbsorbedEqualsUnabsorbed) {
  for (bool split : {true, false}) {
    // Not Q8_0: its kernel quantizes the activations a product reads (q_nope, the attention output) to
    // 8 bits, which the two forms apply to different vectors; the llama.cpp oracle covers Q8_0 files.
    for (DType type : {DType::F32, DType::F16}) {
      ModelConfig config = test::tiny_config(GetParam());
      config.mla_split_kv_b = split;
      TinyDeepseek2 tiny(config, type);
      tiny.model->set_mla_mode(MlaMode::Absorbed);
      const std::vector<float> absorbed = run_logits(*tiny.model, kTokens, 9);
      tiny.model->set_mla_mode(MlaMode::Unabsorbed);
      const std::vector<float> unabsorbed = run_logits(*tiny.model, kTokens, 9);
      const float diff = test::max_abs_diff(absorbed, unabsorbed);
      std::printf("[%s %s %s] absorbed vs unabsorbed: max |logit diff| = %.3g\n", GetParam(),
                  split ? "attn_k_b/attn_v_b" : "attn_kv_b", std::string(dtype_name(type)).c_str(), diff);
      // Only the order of the float sums differs.
      EXPECT_LT(diff, 2e-5f);
    }
  }
}

TEST_P(Deepseek2Presets, SplitAndUnsplitKvbAgree) {
  ModelConfig config = test::tiny_config(GetParam());
  config.mla_split_kv_b = true;
  TinyDeepseek2 split(config, DType::F32);
  config.mla_split_kv_b = false;
  TinyDeepseek2 unsplit(config, DType::F32);
  const float diff = test::max_abs_diff(run_logits(*split.model, kTokens, 5), run_logits(*unsplit.model, kTokens, 5));
  EXPECT_LT(diff, 2e-5f);
}

TEST_P(Deepseek2Presets, ChunkedPrefillMatchesOneCall) {
  const ModelConfig config = test::tiny_config(GetParam());
  TinyDeepseek2 whole(config, DType::F32, 2, 64);
  TinyDeepseek2 chunked(config, DType::F32, 2, 3, 7, "_chunked");
  const float diff = test::max_abs_diff(run_logits(*whole.model, kTokens, 14), run_logits(*chunked.model, kTokens, 14));
  EXPECT_LT(diff, 1e-5f);
}

INSTANTIATE_TEST_SUITE_P(Tiny, Deepseek2Presets, testing::Values("tiny-v2-lite", "tiny-v3"),
                         [](const testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param) == "tiny-v3" ? std::string("V3") : std::string("V2Lite");
                         });

TEST(Deepseek2Mtp, MatchesDoubleReference) {
  const ModelConfig config = test::tiny_config("tiny-v3");
  TinyDeepseek2 tiny(config, DType::F32);
  Deepseek2Model& model = *tiny.model;
  ASSERT_TRUE(model.has_mtp());
  EXPECT_EQ(model.main_layers(), config.block_count - 1);
  const int64_t vocab = config.vocab_size;
  const int64_t n = static_cast<int64_t>(kTokens.size()) - 1;
  std::unique_ptr<KvCache> cache = model.create_cache(64);
  model.forward(kTokens, 0, *cache, {});
  const std::vector<float> hidden(model.hidden_states().begin(), model.hidden_states().end());
  ASSERT_EQ(hidden.size(), kTokens.size() * static_cast<size_t>(config.hidden_size));

  // Draft logits for x_{t+2} from (h_t, x_{t+1}), in two calls to check that the module's cache carries over.
  std::vector<float> draft(static_cast<size_t>(n * vocab));
  const std::vector<int32_t> next(kTokens.begin() + 1, kTokens.end());
  const int64_t split = 6;
  const size_t width = static_cast<size_t>(config.hidden_size);
  model.mtp_forward(std::span<const float>(hidden.data(), split * width), std::span<const int32_t>(next.data(), split),
                    0, *cache, std::span<float>(draft.data(), static_cast<size_t>(split * vocab)));
  model.mtp_forward(std::span<const float>(hidden.data() + split * width, (n - split) * width),
                    std::span<const int32_t>(next.data() + split, static_cast<size_t>(n - split)), split, *cache,
                    std::span<float>(draft.data() + split * vocab, static_cast<size_t>((n - split) * vocab)));

  test::Deepseek2Reference reference(*tiny.source, config);
  std::vector<test::Vec> logits, ref_hidden;
  reference.forward(kTokens, logits, ref_hidden);
  ref_hidden.pop_back();
  const float diff = test::max_abs_diff(draft, flatten(reference.mtp(ref_hidden, next)));
  std::printf("MTP draft logits vs double reference: max |diff| = %.3g\n", diff);
  EXPECT_LT(diff, 1e-3f);
}

TEST(Deepseek2Mtp, ModelWithoutMtpRefuses) {
  TinyDeepseek2 tiny(test::tiny_config("tiny-v2-lite"), DType::F32);
  EXPECT_FALSE(tiny.model->has_mtp());
  std::unique_ptr<KvCache> cache = tiny.model->create_cache(8);
  std::vector<float> h(static_cast<size_t>(tiny.model->config().hidden_size));
  const int32_t token = 1;
  EXPECT_THROW(tiny.model->mtp_forward(h, std::span<const int32_t>(&token, 1), 0, *cache, {}), Error);
}

TEST(Deepseek2Cache, HoldsOnlyTheLatentPerToken) {
  const ModelConfig config = test::tiny_config("tiny-v3");
  TinyDeepseek2 tiny(config, DType::F32);
  const size_t row = static_cast<size_t>(config.kv_lora_rank + config.qk_rope_head_dim);  // c_kv | k_pe
  EXPECT_EQ(tiny.model->kv_bytes_per_token(), static_cast<size_t>(config.block_count) * row * sizeof(float));
  std::unique_ptr<KvCache> cache = tiny.model->create_cache(100);
  EXPECT_EQ(cache->bytes(), 100 * tiny.model->kv_bytes_per_token());
  // DeepSeek-V3: 512 + 64 = 576 values per token and layer, against 128 heads x (192 + 128) = 40960 for
  // per-head keys and values.
  const ModelConfig v3 = *deepseek2_preset("v3-layer");
  EXPECT_EQ(v3.kv_lora_rank + v3.qk_rope_head_dim, 576);
}

TEST(Deepseek2Cache, OverflowAndBadTokensAreErrors) {
  TinyDeepseek2 tiny(test::tiny_config("tiny-v2-lite"), DType::F32);
  std::unique_ptr<KvCache> cache = tiny.model->create_cache(4);
  const std::vector<int32_t> five = {1, 2, 3, 4, 5};
  EXPECT_THROW(tiny.model->forward(five, 0, *cache, {}), Error);
  const std::vector<int32_t> bad = {1, 96};  // vocab is 96
  EXPECT_THROW(tiny.model->forward(bad, 0, *cache, {}), Error);
  const std::vector<int32_t> four = {1, 2, 3, 4};
  EXPECT_NO_THROW(tiny.model->forward(four, 0, *cache, {}));
  const int32_t one = 7;
  EXPECT_THROW(tiny.model->forward(std::span<const int32_t>(&one, 1), 4, *cache, {}), Error);
  EXPECT_THROW(tiny.model->create_cache(0), Error);
}

TEST(Deepseek2Specs, V2LiteAndV3Layouts) {
  auto find = [](const std::vector<TensorSpec>& specs, const std::string& name) -> const TensorSpec* {
    for (const TensorSpec& s : specs) {
      if (s.name == name) return &s;
    }
    return nullptr;
  };
  ModelConfig lite = *deepseek2_preset("v2-lite");
  lite.vocab_size = 102400;
  const std::vector<TensorSpec> l = tensor_specs(lite);
  ASSERT_NE(find(l, "blk.0.attn_q.weight"), nullptr);
  EXPECT_EQ(find(l, "blk.0.attn_q.weight")->shape, (Shape{16 * 192, 2048}));
  EXPECT_EQ(find(l, "blk.0.attn_q_a.weight"), nullptr);
  EXPECT_EQ(find(l, "blk.0.ffn_gate.weight")->shape, (Shape{10944, 2048}));
  EXPECT_EQ(find(l, "blk.1.ffn_gate_exps.weight")->shape, (Shape{64, 1408, 2048}));
  EXPECT_EQ(find(l, "blk.1.ffn_up_shexp.weight")->shape, (Shape{2 * 1408, 2048}));
  EXPECT_EQ(find(l, "blk.1.exp_probs_b.bias"), nullptr);
  EXPECT_EQ(find(l, "blk.26.attn_k_b.weight")->shape, (Shape{16, 512, 128}));
  EXPECT_EQ(find(l, "blk.27.attn_norm.weight"), nullptr);

  ModelConfig v3 = *deepseek2_preset("v3-layer");
  v3.vocab_size = 129280;
  const std::vector<TensorSpec> s = tensor_specs(v3);
  EXPECT_EQ(find(s, "blk.0.attn_q_a.weight")->shape, (Shape{1536, 7168}));
  EXPECT_EQ(find(s, "blk.0.attn_q_b.weight")->shape, (Shape{128 * 192, 1536}));
  EXPECT_EQ(find(s, "blk.0.attn_kv_a_mqa.weight")->shape, (Shape{576, 7168}));
  EXPECT_EQ(find(s, "blk.0.attn_v_b.weight")->shape, (Shape{128, 128, 512}));
  EXPECT_EQ(find(s, "blk.0.attn_output.weight")->shape, (Shape{7168, 128 * 128}));
  EXPECT_EQ(find(s, "blk.1.ffn_down_exps.weight")->shape, (Shape{256, 7168, 2048}));
  EXPECT_EQ(find(s, "blk.1.exp_probs_b.bias")->shape, (Shape{256}));
  EXPECT_EQ(find(s, "blk.1.nextn.eh_proj.weight"), nullptr);
  EXPECT_EQ(find(s, "blk.2.nextn.eh_proj.weight")->shape, (Shape{7168, 2 * 7168}));
  EXPECT_FALSE(find(s, "blk.2.nextn.embed_tokens.weight")->required);
  EXPECT_EQ(find(s, "blk.2.ffn_gate_inp.weight")->shape, (Shape{256, 7168}));
}

}  // namespace
}  // namespace whale
