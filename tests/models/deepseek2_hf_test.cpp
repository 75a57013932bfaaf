// The same deepseek2 weights as a Hugging Face folder and as a GGUF file give the same logits: a V2-Lite
// style folder in f32, and a V3 style folder whose projections are FP8 (float8_e4m3fn with 128x128
// weight_scale_inv blocks, as DeepSeek-V3 ships) next to a GGUF holding the same FP8-rounded values in f32.
// The folder goes through the HF translation (names, kv_b split, stacked experts, FP8 scales, MTP layer).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "core/dtype.h"
#include "deepseek2_fixture.h"
#include "formats/hf_test_folder.h"
#include "models/weights.h"

namespace whale {
namespace {

using json = nlohmann::json;

// The checkpoint name of a GGUF tensor name (experts are handled by the caller).
std::string hf_name(const std::string& name) {
  static const std::map<std::string, std::string> top = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"}};
  static const std::map<std::string, std::string> block = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_q_a.weight", "self_attn.q_a_proj.weight"},
      {"attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight"},
      {"attn_q_b.weight", "self_attn.q_b_proj.weight"},
      {"attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight"},
      {"attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight"},
      {"attn_kv_b.weight", "self_attn.kv_b_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
      {"ffn_gate_inp.weight", "mlp.gate.weight"},
      {"exp_probs_b.bias", "mlp.gate.e_score_correction_bias"},
      {"ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight"},
      {"ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight"},
      {"ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight"},
      {"nextn.eh_proj.weight", "eh_proj.weight"},
      {"nextn.enorm.weight", "enorm.weight"},
      {"nextn.hnorm.weight", "hnorm.weight"},
      {"nextn.shared_head_norm.weight", "shared_head.norm.weight"}};
  if (auto it = top.find(name); it != top.end()) return it->second;
  const size_t dot = name.find('.', 4);
  const std::string layer = name.substr(4, dot - 4);
  return "model.layers." + layer + "." + block.at(name.substr(dot + 1));
}

// float8_e4m3fn: the nearest of the 254 finite codes.
uint8_t to_e4m3(float v) {
  static const std::vector<float> table = [] {
    std::vector<float> t(256);
    for (int c = 0; c < 256; ++c) t[c] = f8_e4m3_to_f32(static_cast<uint8_t>(c));
    return t;
  }();
  int best = 0;
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f) continue;  // NaN
    if (std::fabs(table[c] - v) < std::fabs(table[best] - v)) best = c;
  }
  return static_cast<uint8_t>(best);
}

struct Fp8Matrix {
  std::vector<uint8_t> codes;
  std::vector<float> scale_inv;  // [ceil(rows/128), ceil(cols/128)]
};

// DeepSeek-V3's block quantization of a [rows, cols] matrix; `values` become the dequantized ones.
Fp8Matrix quantize_fp8(std::vector<float>& values, int64_t rows, int64_t cols, size_t offset = 0) {
  const int64_t rb = (rows + 127) / 128, cb = (cols + 127) / 128;
  Fp8Matrix m{std::vector<uint8_t>(static_cast<size_t>(rows * cols)), std::vector<float>(static_cast<size_t>(rb * cb))};
  for (int64_t bi = 0; bi < rb; ++bi) {
    for (int64_t bj = 0; bj < cb; ++bj) {
      float amax = 0.0f;
      for (int64_t r = bi * 128; r < std::min(rows, bi * 128 + 128); ++r) {
        for (int64_t c = bj * 128; c < std::min(cols, bj * 128 + 128); ++c) {
          amax = std::max(amax, std::fabs(values[offset + r * cols + c]));
        }
      }
      const float scale = amax > 0.0f ? amax / 448.0f : 1.0f;
      m.scale_inv[bi * cb + bj] = scale;
      for (int64_t r = bi * 128; r < std::min(rows, bi * 128 + 128); ++r) {
        for (int64_t c = bj * 128; c < std::min(cols, bj * 128 + 128); ++c) {
          float& v = values[offset + r * cols + c];
          const uint8_t code = to_e4m3(v / scale);
          m.codes[r * cols + c] = code;
          v = f8_e4m3_to_f32(code) * scale;
        }
      }
    }
  }
  return m;
}

json hf_config(const ModelConfig& c, int64_t main_layers, bool fp8) {
  const double mscale = c.rope.yarn_log_multiplier / 0.1;
  json j = {{"model_type", c.q_lora_rank > 0 ? "deepseek_v3" : "deepseek_v2"},
            {"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size},
            {"num_hidden_layers", main_layers},
            {"intermediate_size", c.feed_forward_length},
            {"num_attention_heads", c.head_count},
            {"num_key_value_heads", c.head_count},
            {"kv_lora_rank", c.kv_lora_rank},
            {"qk_nope_head_dim", c.qk_nope_head_dim},
            {"qk_rope_head_dim", c.qk_rope_head_dim},
            {"v_head_dim", c.v_head_dim},
            {"n_routed_experts", c.expert_count},
            {"n_shared_experts", c.expert_shared_count},
            {"num_experts_per_tok", c.experts_per_token},
            {"moe_intermediate_size", c.expert_feed_forward_length},
            {"first_k_dense_replace", c.leading_dense_block_count},
            {"n_group", c.expert_group_count},
            {"topk_group", c.expert_group_used_count},
            {"scoring_func", c.expert_gating_func == ExpertGating::Sigmoid ? "sigmoid" : "softmax"},
            {"topk_method", c.expert_gating_func == ExpertGating::Sigmoid ? "noaux_tc" : "greedy"},
            {"norm_topk_prob", c.expert_weights_norm},
            {"routed_scaling_factor", c.expert_weights_scale},
            {"num_nextn_predict_layers", c.nextn_predict_layers},
            {"max_position_embeddings", c.context_length},
            {"rms_norm_eps", c.rms_norm_eps},
            {"rope_theta", c.rope.theta},
            {"tie_word_embeddings", false},
            {"rope_scaling",
             {{"type", "yarn"}, {"factor", c.rope.factor},
              {"original_max_position_embeddings", c.rope.original_context_length},
              {"beta_fast", c.rope.yarn_beta_fast}, {"beta_slow", c.rope.yarn_beta_slow}, {"mscale", mscale},
              {"mscale_all_dim", mscale}}}};
  j["q_lora_rank"] = c.q_lora_rank > 0 ? json(c.q_lora_rank) : json(nullptr);
  if (fp8) {
    j["quantization_config"] = {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"weight_block_size", {128, 128}},
                                {"activation_scheme", "dynamic"}};
  }
  return j;
}

// Writes the weights of `config` as an HF folder in `dir` and as a GGUF file; returns the GGUF path.
std::string write_both(const ModelConfig& config, bool fp8, const testing::TempDir& dir) {
  ModelConfig unsplit = config;
  unsplit.mla_split_kv_b = false;
  std::vector<test::NamedTensor> weights = test::tiny_weights(unsplit, 11);
  const int64_t main_layers = config.block_count - config.nextn_predict_layers;
  for (int64_t l = main_layers; l < config.block_count; ++l) {  // the checkpoint's MTP layer has its head norm
    const std::string name = Weights::layer_name(l, "nextn.shared_head_norm.weight");
    weights.push_back({{name, {config.hidden_size}, TensorKind::Norm},
                       test::random_values(name, config.hidden_size, TensorKind::Norm, 1, 11)});
  }
  std::vector<testing::StTensor> st;
  for (test::NamedTensor& t : weights) {
    const std::string& name = t.spec.name;
    const bool projection = t.spec.kind == TensorKind::Matrix && name != "output.weight" &&
                            !name.ends_with("ffn_gate_inp.weight");
    const bool quantize = fp8 && projection;
    auto emit = [&](const std::string& hf, std::vector<int64_t> shape, size_t offset) {
      const int64_t rows = shape[0], cols = shape[1];
      if (quantize) {
        Fp8Matrix m = quantize_fp8(t.values, rows, cols, offset);
        st.push_back({hf, "F8_E4M3", shape, m.codes});
        st.push_back({hf + "_scale_inv", "F32", {(rows + 127) / 128, (cols + 127) / 128}, testing::f32_bytes(m.scale_inv)});
      } else {
        std::vector<float> slice(t.values.begin() + static_cast<std::ptrdiff_t>(offset),
                                 t.values.begin() + static_cast<std::ptrdiff_t>(offset + rows * cols));
        st.push_back({hf, "F32", shape, testing::f32_bytes(slice)});
      }
    };
    if (name.find("_exps.") != std::string::npos) {
      const size_t dot = name.find('.', 4);
      const std::string layer = name.substr(4, dot - 4);
      const std::string proj = name.substr(dot + 5, name.find("_exps") - dot - 5);  // gate / up / down
      const int64_t rows = t.spec.shape[1], cols = t.spec.shape[2];
      for (int64_t e = 0; e < t.spec.shape[0]; ++e) {
        emit("model.layers." + layer + ".mlp.experts." + std::to_string(e) + "." + proj + "_proj.weight", {rows, cols},
             static_cast<size_t>(e * rows * cols));
      }
    } else if (t.spec.shape.size() == 2) {
      emit(hf_name(name), {t.spec.shape[0], t.spec.shape[1]}, 0);
    } else {
      st.push_back({hf_name(name), "F32", {t.spec.shape[0]}, testing::f32_bytes(t.values)});
    }
  }
  dir.write("config.json", hf_config(config, main_layers, fp8).dump());
  dir.write("model.safetensors", testing::safetensors_bytes(st));

  // The GGUF side: the same (FP8-rounded) values in f32, with kv_b split the way llama.cpp stores it.
  std::vector<test::NamedTensor> gguf;
  for (test::NamedTensor& t : weights) {
    const std::string suffix = ".attn_kv_b.weight";
    if (!config.mla_split_kv_b || !t.spec.name.ends_with(suffix)) {
      gguf.push_back(t);
      continue;
    }
    const std::string blk = t.spec.name.substr(0, t.spec.name.size() - suffix.size());
    std::vector<float> k_b, v_b;
    test::split_kv_b(config, t.values, k_b, v_b);
    gguf.push_back({{blk + ".attn_k_b.weight", {config.head_count, config.kv_lora_rank, config.qk_nope_head_dim}},
                    std::move(k_b)});
    gguf.push_back({{blk + ".attn_v_b.weight", {config.head_count, config.v_head_dim, config.kv_lora_rank}},
                    std::move(v_b)});
  }
  const std::string path = dir.file("same.gguf");
  test::write_gguf(config, gguf, DType::F32, path);
  return path;
}

std::unique_ptr<Deepseek2Model> load(const std::string& path, ThreadPool& pool, bool mtp) {
  ModelSource::Options options;
  options.include_mtp = mtp;
  auto source = std::make_shared<const ModelSource>(ModelSource::open(path, options));
  LoadOptions load_options;
  load_options.pool = &pool;
  std::unique_ptr<Model> model = load_model(source, load_options);
  return std::unique_ptr<Deepseek2Model>(dynamic_cast<Deepseek2Model*>(model.release()));
}

const std::vector<int32_t> kTokens = {5, 77, 13, 60, 2, 91, 34, 48, 19};

// Every token's logits, and (with MTP) the draft logits of every position after it.
std::vector<float> outputs(Deepseek2Model& model) {
  const int64_t vocab = model.config().vocab_size;
  std::unique_ptr<KvCache> cache = model.create_cache(32);
  std::vector<float> logits(kTokens.size() * static_cast<size_t>(vocab));
  model.forward(kTokens, 0, *cache, logits);
  if (model.has_mtp()) {
    const std::vector<float> hidden(model.hidden_states().begin(), model.hidden_states().end());
    const size_t n = kTokens.size() - 1;
    std::vector<float> draft(n * static_cast<size_t>(vocab));
    model.mtp_forward(std::span<const float>(hidden.data(), n * static_cast<size_t>(model.config().hidden_size)),
                      std::span<const int32_t>(kTokens.data() + 1, n), 0, *cache, draft);
    logits.insert(logits.end(), draft.begin(), draft.end());
  }
  return logits;
}

TEST(Deepseek2Hf, V2LiteFolderMatchesGguf) {
  testing::TempDir dir;
  const ModelConfig config = test::tiny_config("tiny-v2-lite");
  const std::string gguf = write_both(config, false, dir);
  ThreadPool pool(2);
  const float diff = test::max_abs_diff(outputs(*load(dir.path(), pool, false)), outputs(*load(gguf, pool, false)));
  std::printf("V2-Lite style HF folder (f32) vs GGUF: max |logit diff| = %.3g\n", diff);
  EXPECT_LT(diff, 1e-5f);
}

TEST(Deepseek2Hf, V3Fp8FolderWithMtpMatchesGguf) {
  testing::TempDir dir;
  const ModelConfig config = test::tiny_config("tiny-v3");
  const std::string gguf = write_both(config, true, dir);
  ThreadPool pool(2);
  std::unique_ptr<Deepseek2Model> hf = load(dir.path(), pool, true);
  ASSERT_TRUE(hf->has_mtp());
  const float diff = test::max_abs_diff(outputs(*hf), outputs(*load(gguf, pool, false)));
  std::printf("V3 style HF folder (fp8, 128x128 scales, MTP) vs GGUF: max |logit diff| = %.3g\n", diff);
  EXPECT_LT(diff, 1e-5f);
}

// DeepSeek-V3's head dims (nope = v = 128) make every head's kv_b rows whole 128-row FP8 blocks, so the
// loader keeps attn_k_b / attn_v_b in FP8 (block scales transposed with the key blocks) instead of
// dequantizing kv_b; the model must still match the f32 GGUF of the same rounded values.
TEST(Deepseek2Hf, V3Fp8FolderWithWholeKvBBlocksRunsInFp8) {
  testing::TempDir dir;
  ModelConfig config = test::tiny_config("tiny-v3");
  config.qk_nope_head_dim = 128;
  config.v_head_dim = 128;
  const std::string gguf = write_both(config, true, dir);
  {
    const ModelSource source = ModelSource::open(dir.path());
    for (const char* name : {"blk.0.attn_q_a.weight", "blk.0.attn_k_b.weight", "blk.0.attn_v_b.weight",
                             "blk.1.ffn_gate_exps.weight", "blk.1.ffn_down_shexp.weight"}) {
      const TensorView& t = source.tensor(name);
      EXPECT_EQ(t.dtype, DType::F8_E4M3) << name;
      EXPECT_EQ(t.bytes, static_cast<size_t>(t.elements())) << name;  // one byte a weight
      EXPECT_NE(source.scale_of(t), nullptr) << name;
    }
  }
  ThreadPool pool(2);
  std::unique_ptr<Deepseek2Model> hf = load(dir.path(), pool, true);
  const float diff = test::max_abs_diff(outputs(*hf), outputs(*load(gguf, pool, false)));
  std::printf("V3 style HF folder (fp8, nope = v = 128, MTP) vs GGUF: max |logit diff| = %.3g\n", diff);
  EXPECT_LT(diff, 1e-5f);
}

}  // namespace
}  // namespace whale
