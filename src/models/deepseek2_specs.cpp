// The tensors of a deepseek2 model as llama.cpp names them, and the named configurations mkmodel writes.
#include <fmt/format.h>

#include "models/architectures.h"
#include "models/deepseek2.h"

namespace whale {

std::vector<TensorSpec> deepseek2_tensor_specs(const ModelConfig& c) {
  const int64_t hidden = c.hidden_size;
  const int64_t heads = c.head_count;
  const int64_t qk = c.qk_nope_head_dim + c.qk_rope_head_dim;
  const int64_t rank = c.kv_lora_rank;
  const int64_t main_layers = c.block_count - c.nextn_predict_layers;
  const int64_t ffe = c.expert_feed_forward_length;
  std::vector<TensorSpec> specs;
  auto add = [&](std::string name, Shape shape, TensorKind kind, bool required = true) {
    specs.push_back({std::move(name), std::move(shape), kind, required});
  };
  using K = TensorKind;
  add("token_embd.weight", {c.vocab_size, hidden}, K::Embedding);
  add("output_norm.weight", {hidden}, K::Norm);
  add("output.weight", {c.vocab_size, hidden}, K::Matrix);  // DeepSeek models never tie the head
  for (int64_t i = 0; i < c.block_count; ++i) {
    auto blk = [&](std::string_view suffix) { return fmt::format("blk.{}.{}", i, suffix); };
    add(blk("attn_norm.weight"), {hidden}, K::Norm);
    if (c.q_lora_rank > 0) {
      add(blk("attn_q_a.weight"), {c.q_lora_rank, hidden}, K::Matrix);
      add(blk("attn_q_a_norm.weight"), {c.q_lora_rank}, K::Norm);
      add(blk("attn_q_b.weight"), {heads * qk, c.q_lora_rank}, K::Matrix);
    } else {
      add(blk("attn_q.weight"), {heads * qk, hidden}, K::Matrix);
    }
    add(blk("attn_kv_a_mqa.weight"), {rank + c.qk_rope_head_dim, hidden}, K::Matrix);
    add(blk("attn_kv_a_norm.weight"), {rank}, K::Norm);
    if (c.mla_split_kv_b) {
      add(blk("attn_k_b.weight"), {heads, rank, c.qk_nope_head_dim}, K::Matrix);
      add(blk("attn_v_b.weight"), {heads, c.v_head_dim, rank}, K::Matrix);
    } else {
      add(blk("attn_kv_b.weight"), {heads * (c.qk_nope_head_dim + c.v_head_dim), rank}, K::Matrix);
    }
    add(blk("attn_output.weight"), {hidden, heads * c.v_head_dim}, K::Matrix);
    add(blk("ffn_norm.weight"), {hidden}, K::Norm);
    if (i < c.leading_dense_block_count) {
      add(blk("ffn_gate.weight"), {c.feed_forward_length, hidden}, K::Matrix);
      add(blk("ffn_up.weight"), {c.feed_forward_length, hidden}, K::Matrix);
      add(blk("ffn_down.weight"), {hidden, c.feed_forward_length}, K::Matrix);
    } else {
      add(blk("ffn_gate_inp.weight"), {c.expert_count, hidden}, K::Matrix);
      // llama.cpp treats the selection bias as optional; every sigmoid-gated DeepSeek model has one.
      if (c.expert_gating_func == ExpertGating::Sigmoid) add(blk("exp_probs_b.bias"), {c.expert_count}, K::Bias);
      add(blk("ffn_gate_exps.weight"), {c.expert_count, ffe, hidden}, K::Matrix);
      add(blk("ffn_up_exps.weight"), {c.expert_count, ffe, hidden}, K::Matrix);
      add(blk("ffn_down_exps.weight"), {c.expert_count, hidden, ffe}, K::Matrix);
      if (c.expert_shared_count > 0) {
        const int64_t shared = ffe * c.expert_shared_count;
        add(blk("ffn_gate_shexp.weight"), {shared, hidden}, K::Matrix);
        add(blk("ffn_up_shexp.weight"), {shared, hidden}, K::Matrix);
        add(blk("ffn_down_shexp.weight"), {hidden, shared}, K::Matrix);
      }
    }
    if (i >= main_layers) {
      add(blk("nextn.eh_proj.weight"), {hidden, 2 * hidden}, K::Matrix);
      add(blk("nextn.enorm.weight"), {hidden}, K::Norm);
      add(blk("nextn.hnorm.weight"), {hidden}, K::Norm);
      // Copies of the shared embedding / head / norm some checkpoints carry; the main model's are used
      // when absent.
      add(blk("nextn.embed_tokens.weight"), {c.vocab_size, hidden}, K::Embedding, false);
      add(blk("nextn.shared_head_head.weight"), {c.vocab_size, hidden}, K::Matrix, false);
      add(blk("nextn.shared_head_norm.weight"), {hidden}, K::Norm, false);
    }
  }
  return specs;
}

namespace {

ModelConfig base(std::string name) {
  ModelConfig c;
  c.arch = "deepseek2";
  c.name = std::move(name);
  c.context_length = 163840;
  c.rms_norm_eps = 1e-6f;
  c.mla_split_kv_b = true;  // the layout current llama.cpp conversions write
  c.rope.type = RopeType::Normal;
  c.rope.theta = 10000.0;
  c.rope.scaling = RopeScaling::Yarn;
  c.rope.factor = 40.0;
  c.rope.original_context_length = 4096;
  c.rope.yarn_beta_fast = 32.0;
  c.rope.yarn_beta_slow = 1.0;
  return c;
}

}  // namespace

ModelConfig with_mla_derived_fields(ModelConfig c) {
  c.rope.dimension_count = c.qk_rope_head_dim;
  c.head_count_kv = 1;  // MLA is multi-query attention over the latent
  c.key_length = c.kv_lora_rank + c.qk_rope_head_dim;
  c.value_length = c.kv_lora_rank;
  return c;
}

namespace {

ModelConfig v2_lite_layout(ModelConfig c) {
  c.q_lora_rank = 0;
  c.expert_gating_func = ExpertGating::Softmax;
  c.expert_weights_norm = false;
  c.expert_weights_scale = 1.0;
  c.expert_group_count = 1;
  c.expert_group_used_count = 1;
  c.rope.yarn_log_multiplier = 0.0707;  // mscale_all_dim 0.707
  return c;
}

ModelConfig v3_layout(ModelConfig c) {
  c.expert_gating_func = ExpertGating::Sigmoid;
  c.expert_weights_norm = true;
  c.expert_weights_scale = 2.5;
  c.rope.yarn_log_multiplier = 0.1;  // mscale_all_dim 1.0
  c.nextn_predict_layers = 1;
  return c;
}

}  // namespace

std::optional<ModelConfig> deepseek2_preset(std::string_view name) {
  if (name == "tiny-v2-lite") {
    // Every matrix width a multiple of 32 so that Q8_0 applies to all of them.
    ModelConfig c = v2_lite_layout(base("tiny deepseek-v2-lite"));
    c.hidden_size = 64;
    c.block_count = 3;
    c.leading_dense_block_count = 1;
    c.head_count = 4;
    c.kv_lora_rank = 64;
    c.qk_nope_head_dim = 32;
    c.qk_rope_head_dim = 16;
    c.v_head_dim = 32;
    c.feed_forward_length = 128;
    c.expert_count = 8;
    c.experts_per_token = 2;
    c.expert_shared_count = 2;
    c.expert_feed_forward_length = 32;
    return with_mla_derived_fields(c);
  }
  if (name == "tiny-v3") {
    ModelConfig c = v3_layout(base("tiny deepseek-v3"));
    c.hidden_size = 64;
    c.block_count = 4;  // 1 dense, 2 MoE, 1 MTP
    c.leading_dense_block_count = 1;
    c.head_count = 4;
    c.q_lora_rank = 32;
    c.kv_lora_rank = 64;
    c.qk_nope_head_dim = 32;
    c.qk_rope_head_dim = 16;
    c.v_head_dim = 32;
    c.feed_forward_length = 128;
    c.expert_count = 16;
    c.experts_per_token = 4;
    c.expert_group_count = 4;
    c.expert_group_used_count = 2;
    c.expert_shared_count = 1;
    c.expert_feed_forward_length = 32;
    return with_mla_derived_fields(c);
  }
  if (name == "v2-lite") {
    ModelConfig c = v2_lite_layout(base("deepseek-v2-lite shapes"));
    c.hidden_size = 2048;
    c.block_count = 27;
    c.leading_dense_block_count = 1;
    c.head_count = 16;
    c.kv_lora_rank = 512;
    c.qk_nope_head_dim = 128;
    c.qk_rope_head_dim = 64;
    c.v_head_dim = 128;
    c.feed_forward_length = 10944;
    c.expert_count = 64;
    c.experts_per_token = 6;
    c.expert_shared_count = 2;
    c.expert_feed_forward_length = 1408;
    return with_mla_derived_fields(c);
  }
  if (name == "v3-layer") {
    ModelConfig c = v3_layout(base("deepseek-v3 shapes, 3 blocks"));
    c.hidden_size = 7168;
    c.block_count = 3;  // 1 dense, 1 MoE, 1 MTP
    c.leading_dense_block_count = 1;
    c.head_count = 128;
    c.q_lora_rank = 1536;
    c.kv_lora_rank = 512;
    c.qk_nope_head_dim = 128;
    c.qk_rope_head_dim = 64;
    c.v_head_dim = 128;
    c.feed_forward_length = 18432;
    c.expert_count = 256;
    c.experts_per_token = 8;
    c.expert_group_count = 8;
    c.expert_group_used_count = 4;
    c.expert_shared_count = 1;
    c.expert_feed_forward_length = 2048;
    return with_mla_derived_fields(c);
  }
  return std::nullopt;
}

std::vector<std::string_view> deepseek2_preset_names() { return {"tiny-v2-lite", "tiny-v3", "v2-lite", "v3-layer"}; }

}  // namespace whale
