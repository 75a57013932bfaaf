// ModelSource tests: tiny Hugging Face folders written by the test (config.json + safetensors) must come out
// with llama.cpp's key names, tensor names, shapes and layouts; values are traced element by element through
// the rearrangements (rope permutation, kv_b split, expert stacking, FP8 block scaling). GGUF files pass
// through unchanged.
#include "formats/model_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "formats/hf_test_folder.h"

namespace whale {
namespace {

using testing::f32_at;
using testing::StTensor;
using testing::TinyCheckpoint;
using testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;

// llama: hidden 8, 2 heads of 4, 1 kv head, ff 6, vocab 10, 1 layer, llama3 rope scaling.
json llama_config() {
  return {{"model_type", "llama"}, {"vocab_size", 10}, {"hidden_size", 8}, {"num_hidden_layers", 1},
          {"intermediate_size", 6}, {"num_attention_heads", 2}, {"num_key_value_heads", 1},
          {"max_position_embeddings", 128}, {"rms_norm_eps", 1e-5}, {"rope_theta", 100.0},
          {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}}}};
}

TinyCheckpoint llama_tensors() {
  TinyCheckpoint ck;
  ck.add("model.embed_tokens.weight", {10, 8});
  ck.add("model.norm.weight", {8});
  ck.add("lm_head.weight", {10, 8});
  ck.add("model.layers.0.input_layernorm.weight", {8});
  ck.add("model.layers.0.self_attn.q_proj.weight", {8, 8}, 1000);
  ck.add("model.layers.0.self_attn.k_proj.weight", {4, 8}, 2000);
  ck.add("model.layers.0.self_attn.v_proj.weight", {4, 8});
  ck.add("model.layers.0.self_attn.o_proj.weight", {8, 8});
  ck.add("model.layers.0.post_attention_layernorm.weight", {8});
  ck.add("model.layers.0.mlp.gate_proj.weight", {6, 8});
  ck.add("model.layers.0.mlp.up_proj.weight", {6, 8});
  ck.add("model.layers.0.mlp.down_proj.weight", {8, 6});
  ck.add("model.layers.0.self_attn.rotary_emb.inv_freq", {2});  // ignored, as in old checkpoints
  return ck;
}

TEST(ModelSourceHf, LlamaKeysNamesAndRopePermutation) {
  TempDir dir;
  llama_tensors().write(dir, llama_config());
  dir.write("tokenizer.json", std::string(R"({"model":{}})"));
  dir.write("tokenizer_config.json", std::string(R"({"chat_template":"{{ messages }}"})"));
  ModelSource m = ModelSource::open(dir.path());
  EXPECT_EQ(m.kind(), ModelSource::Kind::HuggingFace);
  const gguf::Metadata& md = m.metadata();
  EXPECT_EQ(md.entries()[0].first, "general.architecture");
  EXPECT_EQ(m.architecture(), "llama");
  EXPECT_EQ(md.get_int("llama.block_count"), 1);
  EXPECT_EQ(md.get_int("llama.context_length"), 128);
  EXPECT_EQ(md.get_int("llama.embedding_length"), 8);
  EXPECT_EQ(md.get_int("llama.feed_forward_length"), 6);
  EXPECT_EQ(md.get_int("llama.attention.head_count"), 2);
  EXPECT_EQ(md.get_int("llama.attention.head_count_kv"), 1);
  EXPECT_EQ(md.get_int("llama.rope.dimension_count"), 4);
  EXPECT_EQ(md.get_int("llama.vocab_size"), 10);
  EXPECT_EQ(md.find("llama.block_count")->type(), gguf::ValueType::Uint32);
  EXPECT_EQ(md.find("llama.rope.freq_base")->type(), gguf::ValueType::Float32);
  EXPECT_FLOAT_EQ(static_cast<float>(md.get_float("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  EXPECT_FALSE(md.has("llama.rope.scaling.type"));  // llama3 scaling travels as rope_freqs.weight

  EXPECT_EQ(m.tensors().size(), 13u);  // 12 model tensors + rope_freqs
  EXPECT_EQ(m.tensor("token_embd.weight").shape, (Shape{10, 8}));
  EXPECT_EQ(m.tensor("output.weight").shape, (Shape{10, 8}));
  EXPECT_EQ(m.tensor("blk.0.ffn_down.weight").shape, (Shape{8, 6}));
  for (const char* name : {"output_norm.weight", "blk.0.attn_norm.weight", "blk.0.attn_v.weight",
                           "blk.0.attn_output.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight",
                           "blk.0.ffn_up.weight"}) {
    EXPECT_NE(m.find_tensor(name), nullptr) << name;
  }

  // Rope permutation: heads of 4 rows, half = 2; output row 2i + j = input row j*2 + i: rows 0, 2, 1, 3.
  const TensorView& q = m.tensor("blk.0.attn_q.weight");
  const int order[8] = {0, 2, 1, 3, 4, 6, 5, 7};
  for (int r = 0; r < 8; ++r) EXPECT_EQ(f32_at(q, r * 8), 1000.0f + order[r] * 8) << "q row " << r;
  const TensorView& k = m.tensor("blk.0.attn_k.weight");  // one kv head
  for (int r = 0; r < 4; ++r) EXPECT_EQ(f32_at(k, r * 8 + 3), 2000.0f + order[r] * 8 + 3) << "k row " << r;

  // rope_freqs: head_dim 4, theta 100 -> frequencies 1 and 0.1, wavelengths 2*pi and 20*pi. With
  // original context 64, low 1, high 4: the high-frequency cut is 16, the low one 64. 2*pi < 16 -> factor 1;
  // 62.83 lies between -> smooth = (64 / 62.83 - 1) / 3, factor 1 / ((1 - smooth) / 8 + smooth).
  const TensorView& rf = m.tensor("rope_freqs.weight");
  EXPECT_EQ(rf.shape, (Shape{2}));
  EXPECT_EQ(f32_at(rf, 0), 1.0f);
  const double smooth = (64.0 / (20 * std::numbers::pi) - 1.0) / 3.0;
  EXPECT_NEAR(f32_at(rf, 1), 1.0 / ((1 - smooth) / 8 + smooth), 1e-4);

  ASSERT_TRUE(m.tokenizer_json().has_value());
  EXPECT_EQ(*m.tokenizer_json(), R"({"model":{}})");
  EXPECT_EQ(m.chat_template(), "{{ messages }}");
  EXPECT_FALSE(m.generation_config_json().has_value());
  EXPECT_GT(m.file_bytes(), m.tensor_bytes() - 200);
}

json qwen2_config() {
  return {{"model_type", "qwen2"}, {"vocab_size", 12}, {"hidden_size", 8}, {"num_hidden_layers", 1},
          {"intermediate_size", 4}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
          {"max_position_embeddings", 256}, {"rope_theta", 1000000.0}, {"tie_word_embeddings", true},
          {"rope_scaling", {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 64}}}};
}

TEST(ModelSourceHf, Qwen2BiasesBf16TiedEmbeddingsAndYarn) {
  TempDir dir;
  TinyCheckpoint ck;
  auto bf16 = [&](const std::string& name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    ck.add_raw({name, "BF16", shape, testing::bf16_bytes(testing::iota_values(static_cast<size_t>(n)))});
  };
  bf16("model.embed_tokens.weight", {12, 8});
  bf16("model.norm.weight", {8});
  bf16("model.layers.0.input_layernorm.weight", {8});
  bf16("model.layers.0.self_attn.q_proj.weight", {8, 8});
  bf16("model.layers.0.self_attn.q_proj.bias", {8});
  bf16("model.layers.0.self_attn.k_proj.weight", {4, 8});
  bf16("model.layers.0.self_attn.k_proj.bias", {4});
  bf16("model.layers.0.self_attn.v_proj.weight", {4, 8});
  bf16("model.layers.0.self_attn.v_proj.bias", {4});
  bf16("model.layers.0.self_attn.o_proj.weight", {8, 8});
  bf16("model.layers.0.post_attention_layernorm.weight", {8});
  bf16("model.layers.0.mlp.gate_proj.weight", {4, 8});
  bf16("model.layers.0.mlp.up_proj.weight", {4, 8});
  bf16("model.layers.0.mlp.down_proj.weight", {8, 4});
  ck.write(dir, qwen2_config());
  ModelSource m = ModelSource::open(dir.path());
  EXPECT_EQ(m.architecture(), "qwen2");
  EXPECT_EQ(m.find_tensor("output.weight"), nullptr);  // tied: llama.cpp falls back to token_embd
  const TensorView& qb = m.tensor("blk.0.attn_q.bias");
  EXPECT_EQ(qb.dtype, DType::BF16);
  EXPECT_EQ(qb.shape, (Shape{8}));
  // No permutation for qwen2 (NeoX-style rope in llama.cpp too): row 1 of attn_q starts with value 8.
  const TensorView& q = m.tensor("blk.0.attn_q.weight");
  EXPECT_EQ(bf16_to_f32(static_cast<uint16_t>(q.data[16] | (q.data[17] << 8))), 8.0f);
  const gguf::Metadata& md = m.metadata();
  EXPECT_EQ(md.get_string("qwen2.rope.scaling.type"), "yarn");
  EXPECT_EQ(md.get_float("qwen2.rope.scaling.factor"), 4.0);
  EXPECT_EQ(md.get_int("qwen2.rope.scaling.original_context_length"), 64);
  EXPECT_EQ(md.get_float("qwen2.rope.freq_base"), 1000000.0);
  EXPECT_EQ(md.get_int("qwen2.attention.head_count_kv"), 2);
  EXPECT_FALSE(m.chat_template().has_value());

  // A missing bias is an error naming the HF tensor and the GGUF name it was for.
  ck.remove("model.layers.0.self_attn.k_proj.bias");
  ck.write(dir, qwen2_config());
  EXPECT_THAT([&] { ModelSource::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("model.layers.0.self_attn.k_proj.bias"),
                                                    HasSubstr("blk.0.attn_k.bias"), HasSubstr("missing"))));
}

TEST(ModelSourceHf, Qwen3HeadNormsAndExplicitHeadDim) {
  TempDir dir;
  TinyCheckpoint ck;
  // hidden 8, 2 heads of head_dim 6 (not hidden / heads), 1 kv head.
  ck.add("model.embed_tokens.weight", {10, 8});
  ck.add("model.norm.weight", {8});
  ck.add("lm_head.weight", {10, 8});
  ck.add("model.layers.0.input_layernorm.weight", {8});
  ck.add("model.layers.0.self_attn.q_proj.weight", {12, 8});
  ck.add("model.layers.0.self_attn.k_proj.weight", {6, 8});
  ck.add("model.layers.0.self_attn.v_proj.weight", {6, 8});
  ck.add("model.layers.0.self_attn.o_proj.weight", {8, 12});
  ck.add("model.layers.0.self_attn.q_norm.weight", {6}, 50);
  ck.add("model.layers.0.self_attn.k_norm.weight", {6});
  ck.add("model.layers.0.post_attention_layernorm.weight", {8});
  ck.add("model.layers.0.mlp.gate_proj.weight", {4, 8});
  ck.add("model.layers.0.mlp.up_proj.weight", {4, 8});
  ck.add("model.layers.0.mlp.down_proj.weight", {8, 4});
  json config = {{"model_type", "qwen3"}, {"vocab_size", 10}, {"hidden_size", 8}, {"num_hidden_layers", 1},
                 {"intermediate_size", 4}, {"num_attention_heads", 2}, {"num_key_value_heads", 1}, {"head_dim", 6},
                 {"max_position_embeddings", 40960}, {"rope_theta", 1000000}};
  ck.write(dir, config);
  ModelSource m = ModelSource::open(dir.path());
  EXPECT_EQ(m.metadata().get_int("qwen3.attention.key_length"), 6);
  EXPECT_EQ(m.metadata().get_int("qwen3.attention.value_length"), 6);
  EXPECT_EQ(f32_at(m.tensor("blk.0.attn_q_norm.weight"), 5), 55.0f);
  EXPECT_EQ(m.tensor("blk.0.attn_output.weight").shape, (Shape{8, 12}));
  EXPECT_EQ(m.find_tensor("blk.0.attn_q.bias"), nullptr);

  // Config and weights disagree: a mis-shaped tensor names the file, tensor and both shapes.
  ck.remove("model.layers.0.self_attn.k_norm.weight");
  ck.add("model.layers.0.self_attn.k_norm.weight", {4});
  ck.write(dir, config);
  EXPECT_THAT([&] { ModelSource::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("model.safetensors"),
                                                    HasSubstr("model.layers.0.self_attn.k_norm.weight"),
                                                    HasSubstr("expected shape [6]"), HasSubstr("got [4]"))));
}

TEST(ModelSourceHf, ExtraLayerInWeightsIsReported) {
  TempDir dir;
  TinyCheckpoint ck = llama_tensors();
  ck.add("model.layers.1.input_layernorm.weight", {8});
  ck.write(dir, llama_config());
  EXPECT_THAT([&] { ModelSource::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("model.layers.1.input_layernorm.weight"),
                                                    HasSubstr("config and weights disagree"))));
}

TEST(ModelSourceHf, ConfigErrors) {
  TempDir dir;
  llama_tensors().write(dir, llama_config());
  json bad = llama_config();
  bad["model_type"] = "gpt2";
  dir.write("config.json", bad.dump());
  EXPECT_THAT([&] { ModelSource::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("config.json"), HasSubstr("key model_type"),
                                                    HasSubstr("\"gpt2\" is not supported"))));
  bad = llama_config();
  bad["hidden_size"] = "8";
  dir.write("config.json", bad.dump());
  EXPECT_THAT([&] { ModelSource::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("key hidden_size"), HasSubstr("expected an integer"))));
  bad = llama_config();
  bad["num_key_value_heads"] = 3;
  dir.write("config.json", bad.dump());
  EXPECT_THAT([&] { ModelSource::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(HasSubstr("does not divide num_attention_heads")));
  bad = llama_config();
  bad.erase("num_hidden_layers");
  dir.write("config.json", bad.dump());
  EXPECT_THAT([&] { ModelSource::open(dir.path()); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("key num_hidden_layers"), HasSubstr("missing"))));
  dir.write("config.json", std::string("{"));
  EXPECT_THAT([&] { ModelSource::open(dir.path()); }, ::testing::ThrowsMessage<Error>(HasSubstr("not valid JSON")));
  TempDir empty;
  EXPECT_THAT([&] { ModelSource::open(empty.path()); },
              ::testing::ThrowsMessage<Error>(HasSubstr("config.json is missing")));
  EXPECT_THAT([&] { ModelSource::open(empty.file("nope.gguf")); },
              ::testing::ThrowsMessage<Error>(HasSubstr("no such file or folder")));
}

TEST(ModelSourceGguf, PassesFileThrough) {
  TempDir dir;
  gguf::Writer w;
  w.metadata().set_string("general.architecture", "qwen2");
  w.metadata().set_uint32("qwen2.block_count", 3);
  w.metadata().set_string("tokenizer.chat_template", "{% for m in messages %}{% endfor %}");
  w.add_tensor("token_embd.weight", DType::F32, {2, 4}, testing::f32_bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  w.write(dir.file("m.gguf"));
  ModelSource m = ModelSource::open(dir.file("m.gguf"));
  EXPECT_EQ(m.kind(), ModelSource::Kind::Gguf);
  EXPECT_EQ(m.architecture(), "qwen2");
  EXPECT_EQ(m.metadata().get_int("qwen2.block_count"), 3);
  EXPECT_EQ(m.chat_template(), "{% for m in messages %}{% endfor %}");
  EXPECT_EQ(f32_at(m.tensor("token_embd.weight"), 7), 8.0f);
  EXPECT_FALSE(m.tokenizer_json().has_value());
  EXPECT_THAT([&] { m.tensor("output.weight"); }, ::testing::ThrowsMessage<Error>(HasSubstr("tensor output.weight: missing")));

  gguf::Writer no_arch;
  no_arch.write(dir.file("n.gguf"));
  EXPECT_THAT([&] { ModelSource::open(dir.file("n.gguf")); },
              ::testing::ThrowsMessage<Error>(HasSubstr("key general.architecture: missing")));
}

}  // namespace
}  // namespace whale
