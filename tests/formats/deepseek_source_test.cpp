// ModelSource on tiny DeepSeek-V3 / V2-Lite style folders: MLA tensors (kv_b split), stacked routed experts,
// shared experts, FP8 weights with block scales, the MTP layer, and the deepseek2 metadata keys.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "formats/gguf_convert.h"
#include "formats/hf_test_folder.h"
#include "formats/model_source.h"
#include "formats/quantize.h"
#include "kernels/matrix.h"
#include "kernels/ref/ops.h"
#include "kernels/ref/quant.h"

namespace whale {
namespace {

using testing::f32_at;
using testing::StTensor;
using testing::TinyCheckpoint;
using testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;

// hidden 8, 2 heads, q_lora 4, kv_lora 4, nope 2, rope 2, v 3; layer 0 dense (ff 6), layer 1 MoE with 4
// routed experts (ff 4) + 1 shared; layer 2 is the MTP module.
json v3_config() {
  return {{"model_type", "deepseek_v3"}, {"vocab_size", 10}, {"hidden_size", 8}, {"num_hidden_layers", 2},
          {"intermediate_size", 6}, {"num_attention_heads", 2}, {"num_key_value_heads", 2},
          {"q_lora_rank", 4}, {"kv_lora_rank", 4}, {"qk_nope_head_dim", 2}, {"qk_rope_head_dim", 2},
          {"v_head_dim", 3}, {"n_routed_experts", 4}, {"n_shared_experts", 1}, {"num_experts_per_tok", 2},
          {"moe_intermediate_size", 4}, {"first_k_dense_replace", 1}, {"n_group", 2}, {"topk_group", 1},
          {"scoring_func", "sigmoid"}, {"topk_method", "noaux_tc"}, {"norm_topk_prob", true},
          {"routed_scaling_factor", 2.5}, {"num_nextn_predict_layers", 1}, {"max_position_embeddings", 640},
          {"rms_norm_eps", 1e-6}, {"rope_theta", 10000},
          {"rope_scaling", {{"type", "yarn"}, {"factor", 40}, {"original_max_position_embeddings", 16},
                            {"beta_fast", 32}, {"beta_slow", 1}, {"mscale", 1.0}, {"mscale_all_dim", 1.0}}}};
}

void add_layer(TinyCheckpoint& t, int layer, bool moe, bool q_lora, bool mtp) {
  const std::string p = "model.layers." + std::to_string(layer);
  t.add(p + ".input_layernorm.weight", {8});
  if (q_lora) {
    t.add(p + ".self_attn.q_a_proj.weight", {4, 8});
    t.add(p + ".self_attn.q_a_layernorm.weight", {4});
    t.add(p + ".self_attn.q_b_proj.weight", {8, 4});  // 2 heads x (2 + 2)
  } else {
    t.add(p + ".self_attn.q_proj.weight", {8, 8});
  }
  t.add(p + ".self_attn.kv_a_proj_with_mqa.weight", {6, 8});
  t.add(p + ".self_attn.kv_a_layernorm.weight", {4});
  t.add(p + ".self_attn.kv_b_proj.weight", {10, 4});  // 2 heads x (2 nope + 3 v)
  t.add(p + ".self_attn.o_proj.weight", {8, 6});
  t.add(p + ".post_attention_layernorm.weight", {8});
  if (!moe) {
    for (const char* w : {"gate_proj", "up_proj"}) t.add(p + ".mlp." + w + ".weight", {6, 8});
    t.add(p + ".mlp.down_proj.weight", {8, 6});
  } else {
    t.add(p + ".mlp.gate.weight", {4, 8});
    for (int e = 0; e < 4; ++e) {
      const std::string ep = p + ".mlp.experts." + std::to_string(e);
      t.add(ep + ".gate_proj.weight", {4, 8}, 100.0f * e);
      t.add(ep + ".up_proj.weight", {4, 8}, 1000.0f + 100.0f * e);
      t.add(ep + ".down_proj.weight", {8, 4}, 2000.0f + 100.0f * e);
    }
    for (const char* w : {"gate_proj", "up_proj"}) t.add(p + ".mlp.shared_experts." + w + ".weight", {4, 8});
    t.add(p + ".mlp.shared_experts.down_proj.weight", {8, 4});
  }
  if (mtp) {
    t.add(p + ".eh_proj.weight", {8, 16});
    t.add(p + ".enorm.weight", {8});
    t.add(p + ".hnorm.weight", {8});
    t.add(p + ".shared_head.norm.weight", {8});
    t.add(p + ".shared_head.head.weight", {10, 8});
    t.add(p + ".embed_tokens.weight", {10, 8});
  }
}

TinyCheckpoint v3_tensors() {
  TinyCheckpoint t;
  t.add("model.embed_tokens.weight", {10, 8});
  t.add("model.norm.weight", {8});
  t.add("lm_head.weight", {10, 8});
  add_layer(t, 0, false, true, false);
  add_layer(t, 1, true, true, false);
  t.add("model.layers.1.mlp.gate.e_score_correction_bias", {4}, 0.5f);
  add_layer(t, 2, true, true, true);
  t.add("model.layers.2.mlp.gate.e_score_correction_bias", {4});
  // FP8 q_a_proj in layer 0: [4, 8], one 128x128 block with scale_inv 0.5; bytes alternate 1.0 and 2.0.
  t.remove("model.layers.0.self_attn.q_a_proj.weight");
  std::vector<uint8_t> fp8(32);
  for (size_t i = 0; i < fp8.size(); ++i) fp8[i] = i % 2 ? 0x40 : 0x38;
  t.add_raw({"model.layers.0.self_attn.q_a_proj.weight", "F8_E4M3", {4, 8}, fp8});
  t.add_raw({"model.layers.0.self_attn.q_a_proj.weight_scale_inv", "F32", {1, 1}, testing::f32_bytes({0.5f})});
  return t;
}

TEST(ModelSourceDeepseek, V3MetadataKeys) {
  TempDir dir;
  v3_tensors().write(dir, v3_config());
  ModelSource m = ModelSource::open(dir.path());
  const gguf::Metadata& md = m.metadata();
  EXPECT_EQ(m.architecture(), "deepseek2");
  EXPECT_EQ(md.get_int("deepseek2.block_count"), 2);  // MTP left out by default, as llama.cpp's converter does
  EXPECT_FALSE(md.has("deepseek2.nextn_predict_layers"));
  EXPECT_EQ(md.get_int("deepseek2.leading_dense_block_count"), 1);
  EXPECT_EQ(md.get_int("deepseek2.feed_forward_length"), 6);
  EXPECT_EQ(md.get_int("deepseek2.expert_feed_forward_length"), 4);
  EXPECT_EQ(md.get_int("deepseek2.expert_count"), 4);
  EXPECT_EQ(md.get_int("deepseek2.expert_used_count"), 2);
  EXPECT_EQ(md.get_int("deepseek2.expert_shared_count"), 1);
  EXPECT_EQ(md.get_int("deepseek2.expert_group_count"), 2);
  EXPECT_EQ(md.get_int("deepseek2.expert_group_used_count"), 1);
  EXPECT_EQ(md.get_float("deepseek2.expert_weights_scale"), 2.5);
  EXPECT_EQ(md.find_bool("deepseek2.expert_weights_norm"), true);
  EXPECT_EQ(md.get_int("deepseek2.expert_gating_func"), 2);  // sigmoid
  EXPECT_EQ(md.get_int("deepseek2.attention.head_count"), 2);
  EXPECT_EQ(md.get_int("deepseek2.attention.head_count_kv"), 1);
  EXPECT_EQ(md.get_int("deepseek2.attention.q_lora_rank"), 4);
  EXPECT_EQ(md.get_int("deepseek2.attention.kv_lora_rank"), 4);
  EXPECT_EQ(md.get_int("deepseek2.attention.key_length"), 6);    // kv_lora + rope
  EXPECT_EQ(md.get_int("deepseek2.attention.value_length"), 4);  // kv_lora
  EXPECT_EQ(md.get_int("deepseek2.attention.key_length_mla"), 4);
  EXPECT_EQ(md.get_int("deepseek2.attention.value_length_mla"), 3);
  EXPECT_EQ(md.get_int("deepseek2.rope.dimension_count"), 2);
  EXPECT_EQ(md.get_string("deepseek2.rope.scaling.type"), "yarn");
  EXPECT_EQ(md.get_float("deepseek2.rope.scaling.factor"), 40.0);
  EXPECT_EQ(md.get_int("deepseek2.rope.scaling.original_context_length"), 16);
  EXPECT_EQ(md.get_float("deepseek2.rope.scaling.yarn_beta_fast"), 32.0);
  EXPECT_FLOAT_EQ(static_cast<float>(md.get_float("deepseek2.rope.scaling.yarn_log_multiplier")), 0.1f);
  EXPECT_EQ(md.find("deepseek2.expert_weights_norm")->type(), gguf::ValueType::Bool);
  EXPECT_EQ(md.find("deepseek2.expert_gating_func")->type(), gguf::ValueType::Uint32);
}

TEST(ModelSourceDeepseek, V3TinyCheckpointAndLayouts) {
  TempDir dir;
  v3_tensors().write(dir, v3_config());
  ModelSource m = ModelSource::open(dir.path());
  EXPECT_EQ(m.find_tensor("blk.2.attn_norm.weight"), nullptr);
  EXPECT_EQ(m.find_tensor("blk.0.attn_kv_b.weight"), nullptr);
  EXPECT_EQ(m.tensor("blk.0.ffn_gate.weight").shape, (Shape{6, 8}));
  EXPECT_EQ(m.find_tensor("blk.0.ffn_gate_inp.weight"), nullptr);
  EXPECT_EQ(m.tensor("blk.1.attn_q_b.weight").shape, (Shape{8, 4}));
  EXPECT_EQ(m.tensor("blk.1.attn_kv_a_mqa.weight").shape, (Shape{6, 8}));
  EXPECT_EQ(m.tensor("blk.1.attn_kv_a_norm.weight").shape, (Shape{4}));
  EXPECT_EQ(m.tensor("blk.1.attn_q_a_norm.weight").shape, (Shape{4}));
  EXPECT_EQ(m.tensor("blk.1.attn_output.weight").shape, (Shape{8, 6}));
  EXPECT_EQ(m.tensor("blk.1.ffn_gate_inp.weight").shape, (Shape{4, 8}));
  EXPECT_EQ(f32_at(m.tensor("blk.1.exp_probs_b.bias"), 3), 3.5f);
  EXPECT_EQ(m.tensor("blk.1.ffn_gate_shexp.weight").shape, (Shape{4, 8}));
  EXPECT_EQ(m.tensor("blk.1.ffn_down_shexp.weight").shape, (Shape{8, 4}));

  // kv_b [10, 4] holds kv_b[row][c] = 4*row + c; per head rows 0-1 are keys, 2-4 values.
  // attn_k_b {2, 4, 2}: k_b[h][r][j] = kv_b[5h + j][r].  k_b[1][3][1] = kv_b[6][3] = 27, at (1*4+3)*2+1 = 15.
  const TensorView& k_b = m.tensor("blk.1.attn_k_b.weight");
  EXPECT_EQ(k_b.shape, (Shape{2, 4, 2}));
  EXPECT_EQ(f32_at(k_b, 15), 27.0f);
  EXPECT_EQ(f32_at(k_b, 1), 4.0f);  // k_b[0][0][1] = kv_b[1][0]
  EXPECT_EQ(f32_at(k_b, 2), 1.0f);  // k_b[0][1][0] = kv_b[0][1]
  // attn_v_b {2, 3, 4}: v_b[h][i][c] = kv_b[5h + 2 + i][c].  v_b[1][2][3] = kv_b[9][3] = 39, at 23.
  const TensorView& v_b = m.tensor("blk.1.attn_v_b.weight");
  EXPECT_EQ(v_b.shape, (Shape{2, 3, 4}));
  EXPECT_EQ(f32_at(v_b, 23), 39.0f);
  EXPECT_EQ(f32_at(v_b, 0), 8.0f);  // kv_b[2][0]

  // Experts stacked {expert, rows, cols}: gate of expert e holds 100e + 8r + c.
  const TensorView& gate = m.tensor("blk.1.ffn_gate_exps.weight");
  EXPECT_EQ(gate.shape, (Shape{4, 4, 8}));
  EXPECT_EQ(f32_at(gate, 3 * 32 + 1 * 8 + 2), 310.0f);
  const TensorView& down = m.tensor("blk.1.ffn_down_exps.weight");
  EXPECT_EQ(down.shape, (Shape{4, 8, 4}));
  EXPECT_EQ(f32_at(down, 2 * 32 + 7 * 4 + 3), 2231.0f);
  EXPECT_EQ(f32_at(m.tensor("blk.1.ffn_up_exps.weight"), 32), 1100.0f);

  // FP8 q_a_proj stays FP8, its scales beside it: bytes 1.0 / 2.0 alternating, times scale_inv 0.5.
  const TensorView& q_a = m.tensor("blk.0.attn_q_a.weight");
  EXPECT_EQ(q_a.dtype, DType::F8_E4M3);
  EXPECT_EQ(q_a.shape, (Shape{4, 8}));
  EXPECT_EQ(q_a.bytes, 32u);
  const TensorView* scale = m.scale_of(q_a);
  ASSERT_NE(scale, nullptr);
  EXPECT_EQ(scale, m.find_tensor("blk.0.attn_q_a.weight_scale_inv"));
  EXPECT_EQ(scale->shape, (Shape{1, 1}));
  EXPECT_EQ(f32_at(*scale, 0), 0.5f);
  EXPECT_TRUE(m.is_block_scale(*scale));
  EXPECT_FALSE(m.is_block_scale(q_a));
  std::vector<float> row(8);
  m.dequantize_row(q_a, 3, row.data());
  EXPECT_EQ(row[0], 0.5f);
  EXPECT_EQ(row[7], 1.0f);
  EXPECT_EQ(m.scale_of(m.tensor("blk.0.attn_k_b.weight")), nullptr);  // an f32 tensor has no scales
}

// float8_e4m3fn code of a small power of two 2^k (k in [-6, 8]): exponent k + 7, no mantissa bits.
uint8_t fp8_pow2(int k) { return static_cast<uint8_t>((k + 7) << 3); }

// Where each tensor's bytes start in a safetensors file: 8 + header length + data_offsets[0].
int64_t file_offset(const std::string& path, const std::string& name) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  const json j = json::parse(std::string(bytes.data() + 8, header));
  return 8 + static_cast<int64_t>(header) + j.at(name).at("data_offsets").at(0).get<int64_t>();
}

TEST(ModelSourceDeepseek, Fp8WeightsAreViewsIntoTheFile) {
  TempDir dir;
  v3_tensors().write(dir, v3_config());
  ModelSource m = ModelSource::open(dir.path());
  const std::string file = dir.file("model.safetensors");
  // token_embd is an f32 view: where it sits gives the start of the mapping; q_a must sit at its own offset.
  const uint8_t* map = m.tensor("token_embd.weight").data - file_offset(file, "model.embed_tokens.weight");
  const TensorView& q_a = m.tensor("blk.0.attn_q_a.weight");
  EXPECT_EQ(q_a.data, map + file_offset(file, "model.layers.0.self_attn.q_a_proj.weight"));
}

// Layer 1's routed gate experts in FP8, expert e with codes 2^(r - 2) for row r and scale e + 1.
TinyCheckpoint v3_tensors_with_fp8_experts() {
  TinyCheckpoint t = v3_tensors();
  for (int e = 0; e < 4; ++e) {
    const std::string name = "model.layers.1.mlp.experts." + std::to_string(e) + ".gate_proj.weight";
    t.remove(name);
    std::vector<uint8_t> codes(32);
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = fp8_pow2(static_cast<int>(i / 8) - 2);
    t.add_raw({name, "F8_E4M3", {4, 8}, codes});
    t.add_raw({name + "_scale_inv", "BF16", {1, 1}, testing::bf16_bytes({static_cast<float>(e + 1)})});
  }
  return t;
}

TEST(ModelSourceDeepseek, Fp8ExpertsStackWithTheirScales) {
  TempDir dir;
  v3_tensors_with_fp8_experts().write(dir, v3_config());
  ModelSource m = ModelSource::open(dir.path());
  const TensorView& gate = m.tensor("blk.1.ffn_gate_exps.weight");
  EXPECT_EQ(gate.dtype, DType::F8_E4M3);
  EXPECT_EQ(gate.shape, (Shape{4, 4, 8}));
  EXPECT_EQ(gate.bytes, 4u * 32u);  // one byte a weight
  const TensorView* scale = m.scale_of(gate);
  ASSERT_NE(scale, nullptr);
  EXPECT_EQ(scale->shape, (Shape{4, 1, 1}));  // bf16 in the file, f32 as presented
  for (int e = 0; e < 4; ++e) EXPECT_EQ(f32_at(*scale, e), static_cast<float>(e + 1));
  std::vector<float> row(8);
  m.dequantize_row(gate, 2 * 4 + 3, row.data());  // expert 2, row 3: 2^1 * 3
  EXPECT_EQ(row[5], 6.0f);
  // The kernels' view of one expert takes that expert's slice of the 3-D scales.
  const Matrix expert = expert_matrix(gate, 2, scale);
  EXPECT_EQ(expert.scale_inv, reinterpret_cast<const float*>(scale->data) + 2);
  std::fill(row.begin(), row.end(), 0.0f);
  ref::get_row(expert, 3, row.data());
  EXPECT_EQ(row[5], 6.0f);
}

// hidden 8, 2 heads, nope = v = 128 (DeepSeek-V3's head dims), kv_lora 4: kv_b holds whole 128-row blocks
// per head, so the split keeps FP8. Block b of kv_b (rows 128b..) has scale 2^b, codes 2^((row + col) % 4 - 2).
TEST(ModelSourceDeepseek, Fp8KvBWithWholeBlocksStaysFp8) {
  TempDir dir;
  json config = v3_config();
  config["qk_nope_head_dim"] = 128;
  config["v_head_dim"] = 128;
  config["num_hidden_layers"] = 1;
  config["num_nextn_predict_layers"] = 0;
  TinyCheckpoint t;
  t.add("model.embed_tokens.weight", {10, 8});
  t.add("model.norm.weight", {8});
  t.add("lm_head.weight", {10, 8});
  const std::string p = "model.layers.0";
  t.add(p + ".input_layernorm.weight", {8});
  t.add(p + ".self_attn.q_a_proj.weight", {4, 8});
  t.add(p + ".self_attn.q_a_layernorm.weight", {4});
  t.add(p + ".self_attn.q_b_proj.weight", {2 * 130, 4});
  t.add(p + ".self_attn.kv_a_proj_with_mqa.weight", {6, 8});
  t.add(p + ".self_attn.kv_a_layernorm.weight", {4});
  const int64_t rows = 2 * 256, rank = 4;
  std::vector<uint8_t> codes(static_cast<size_t>(rows * rank));
  std::vector<float> kv_b(codes.size());  // the real values
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < rank; ++c) {
      const int k = static_cast<int>((r + c) % 4) - 2;
      codes[static_cast<size_t>(r * rank + c)] = fp8_pow2(k);
      kv_b[static_cast<size_t>(r * rank + c)] = std::ldexp(1.0f, k + static_cast<int>(r / 128));
    }
  }
  t.add_raw({p + ".self_attn.kv_b_proj.weight", "F8_E4M3", {rows, rank}, codes});
  t.add_raw({p + ".self_attn.kv_b_proj.weight_scale_inv", "F32", {4, 1}, testing::f32_bytes({1, 2, 4, 8})});
  t.add(p + ".self_attn.o_proj.weight", {8, 2 * 128});
  t.add(p + ".post_attention_layernorm.weight", {8});
  for (const char* w : {"gate_proj", "up_proj"}) t.add(p + ".mlp." + w + ".weight", {6, 8});
  t.add(p + ".mlp.down_proj.weight", {8, 6});
  t.write(dir, config);

  ModelSource m = ModelSource::open(dir.path());
  const TensorView& k_b = m.tensor("blk.0.attn_k_b.weight");
  const TensorView& v_b = m.tensor("blk.0.attn_v_b.weight");
  ASSERT_EQ(k_b.dtype, DType::F8_E4M3);
  ASSERT_EQ(v_b.dtype, DType::F8_E4M3);
  EXPECT_EQ(k_b.shape, (Shape{2, 4, 128}));
  EXPECT_EQ(v_b.shape, (Shape{2, 128, 4}));
  EXPECT_EQ(m.scale_of(k_b)->shape, (Shape{2, 1, 1}));
  EXPECT_EQ(m.scale_of(v_b)->shape, (Shape{2, 1, 1}));
  std::vector<float> row(128);
  for (int64_t h = 0; h < 2; ++h) {
    for (int64_t r = 0; r < rank; ++r) {  // k_b[h][r][j] = kv_b[256h + j][r]
      m.dequantize_row(k_b, h * rank + r, row.data());
      for (int64_t j = 0; j < 128; ++j) ASSERT_EQ(row[j], kv_b[static_cast<size_t>((256 * h + j) * rank + r)]);
    }
    for (int64_t i = 0; i < 128; ++i) {  // v_b[h][i][c] = kv_b[256h + 128 + i][c]
      m.dequantize_row(v_b, h * 128 + i, row.data());
      for (int64_t c = 0; c < rank; ++c) ASSERT_EQ(row[c], kv_b[static_cast<size_t>((256 * h + 128 + i) * rank + c)]);
    }
  }
}

// The tiny folder's kv_b (2 nope + 3 v rows a head) in FP8 would split its 128-row block across heads, so it
// is dequantized: the split tensors are f32 with the real values.
TEST(ModelSourceDeepseek, Fp8KvBSplittingBlocksIsDequantized) {
  TempDir dir;
  TinyCheckpoint t = v3_tensors();
  t.remove("model.layers.1.self_attn.kv_b_proj.weight");
  std::vector<uint8_t> codes(40);
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = fp8_pow2(static_cast<int>(i % 4));
  t.add_raw({"model.layers.1.self_attn.kv_b_proj.weight", "F8_E4M3", {10, 4}, codes});
  t.add_raw({"model.layers.1.self_attn.kv_b_proj.weight_scale_inv", "F32", {1, 1}, testing::f32_bytes({0.5f})});
  t.write(dir, v3_config());
  ModelSource m = ModelSource::open(dir.path());
  const TensorView& k_b = m.tensor("blk.1.attn_k_b.weight");
  EXPECT_EQ(k_b.dtype, DType::F32);
  EXPECT_EQ(m.find_tensor("blk.1.attn_k_b.weight_scale_inv"), nullptr);
  // k_b[1][3][1] = kv_b[6][3] = 2^3 * 0.5; v_b[1][2][3] = kv_b[9][3] = 2^3 * 0.5; v_b[0][0][1] = kv_b[2][1] = 1.
  EXPECT_EQ(f32_at(k_b, 15), 4.0f);
  EXPECT_EQ(f32_at(m.tensor("blk.1.attn_v_b.weight"), 23), 4.0f);
  EXPECT_EQ(f32_at(m.tensor("blk.1.attn_v_b.weight"), 1), 1.0f);
}

// `whale convert` and `whale quantize` write GGUF, which has no FP8: the weights come out dequantized with
// their scales applied, and the scale tensors are not written.
TEST(ModelSourceDeepseek, Fp8ConvertsAndQuantizesWithScalesApplied) {
  TempDir dir;
  v3_tensors_with_fp8_experts().write(dir, v3_config());
  const ModelSource m = ModelSource::open(dir.path());
  ThreadPool pool(2);
  for (const bool quantize : {false, true}) {
    gguf::Writer writer;
    if (quantize) {
      gguf::add_quantized_model(m, *gguf::quant_scheme("f32"), pool, writer);
    } else {
      gguf::add_model(m, DType::F32, writer);
    }
    const std::string path = dir.file(quantize ? "quantized.gguf" : "converted.gguf");
    writer.write(path);
    const gguf::File out = gguf::File::open(path);
    for (const TensorView& t : out.tensors()) {
      EXPECT_FALSE(t.name.ends_with("_scale_inv")) << t.name;
      EXPECT_EQ(t.dtype, DType::F32) << t.name;
    }
    const TensorView* q_a = out.find_tensor("blk.0.attn_q_a.weight");
    ASSERT_NE(q_a, nullptr);
    EXPECT_EQ(f32_at(*q_a, 0), 0.5f);
    EXPECT_EQ(f32_at(*q_a, 31), 1.0f);
    const TensorView* gate = out.find_tensor("blk.1.ffn_gate_exps.weight");
    ASSERT_NE(gate, nullptr);
    EXPECT_EQ(f32_at(*gate, 2 * 32 + 3 * 8 + 5), 6.0f);  // expert 2, row 3: 2^1 * 3
    EXPECT_EQ(f32_at(*gate, 0), 0.25f);
  }
}

TEST(ModelSourceDeepseek, MtpLayerOnRequest) {
  TempDir dir;
  v3_tensors().write(dir, v3_config());
  ModelSource::Options options;
  options.include_mtp = true;
  ModelSource m = ModelSource::open(dir.path(), options);
  EXPECT_EQ(m.metadata().get_int("deepseek2.block_count"), 3);
  EXPECT_EQ(m.metadata().get_int("deepseek2.nextn_predict_layers"), 1);
  EXPECT_EQ(m.tensor("blk.2.nextn.eh_proj.weight").shape, (Shape{8, 16}));
  EXPECT_EQ(m.tensor("blk.2.nextn.shared_head_head.weight").shape, (Shape{10, 8}));
  for (const char* name : {"blk.2.nextn.enorm.weight", "blk.2.nextn.hnorm.weight", "blk.2.nextn.shared_head_norm.weight",
                           "blk.2.nextn.embed_tokens.weight", "blk.2.attn_k_b.weight", "blk.2.ffn_up_exps.weight",
                           "blk.2.exp_probs_b.bias"}) {
    EXPECT_NE(m.find_tensor(name), nullptr) << name;
  }
}

TEST(ModelSourceDeepseek, Fp8Errors) {
  TempDir dir;
  TinyCheckpoint t = v3_tensors();
  t.remove("model.layers.0.self_attn.q_a_proj.weight_scale_inv");
  t.write(dir, v3_config());
  EXPECT_THAT([&] { ModelSource::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("model.layers.0.self_attn.q_a_proj.weight"),
                                                    HasSubstr("without"), HasSubstr("weight_scale_inv"))));
  t.add_raw({"model.layers.0.self_attn.q_a_proj.weight_scale_inv", "F32", {1, 2}, testing::f32_bytes({1, 1})});
  t.write(dir, v3_config());
  EXPECT_THAT([&] { ModelSource::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("weight_scale_inv"), HasSubstr("expected shape [1, 1]"))));
}

TEST(ModelSourceDeepseek, MissingExpertIsNamed) {
  TempDir dir;
  TinyCheckpoint t = v3_tensors();
  t.remove("model.layers.1.mlp.experts.2.up_proj.weight");
  t.write(dir, v3_config());
  EXPECT_THAT([&] { ModelSource::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("model.layers.1.mlp.experts.2.up_proj.weight"),
                                                    HasSubstr("blk.1.ffn_up_exps.weight"), HasSubstr("missing"))));
}

TEST(ModelSourceDeepseek, V2LiteWithoutQLora) {
  TempDir dir;
  json config = v3_config();
  config["model_type"] = "deepseek_v2";
  config["q_lora_rank"] = nullptr;
  config["scoring_func"] = "softmax";
  config["topk_method"] = "greedy";
  config["norm_topk_prob"] = false;
  config.erase("n_group");
  config.erase("topk_group");
  config.erase("num_nextn_predict_layers");
  TinyCheckpoint t;
  t.add("model.embed_tokens.weight", {10, 8});
  t.add("model.norm.weight", {8});
  t.add("lm_head.weight", {10, 8});
  add_layer(t, 0, false, false, false);
  add_layer(t, 1, true, false, false);
  t.write(dir, config);
  ModelSource m = ModelSource::open(dir.path());
  EXPECT_EQ(m.tensor("blk.1.attn_q.weight").shape, (Shape{8, 8}));
  EXPECT_EQ(m.find_tensor("blk.1.attn_q_a.weight"), nullptr);
  EXPECT_EQ(m.find_tensor("blk.1.exp_probs_b.bias"), nullptr);
  EXPECT_EQ(m.metadata().get_int("deepseek2.attention.q_lora_rank"), 0);
  EXPECT_EQ(m.metadata().get_int("deepseek2.expert_gating_func"), 1);  // softmax
  EXPECT_FALSE(m.metadata().has("deepseek2.expert_weights_norm"));
  EXPECT_FALSE(m.metadata().has("deepseek2.expert_group_count"));
}

}  // namespace
}  // namespace whale
