// The shapes of the shipped models. nano-r1 is the DeepSeek-V3 architecture at laptop scale (MLA, one dense
// block then DeepSeekMoE blocks with sigmoid routing and a score-correction bias, one MTP block); every matrix
// width is a multiple of 32 so Q8_0 covers all of them. nano-r1-distill is a dense qwen2 student with under a
// third of nano-r1's parameters.
#include "core/error.h"
#include "models/deepseek2.h"
#include "train/network.h"

namespace whale::train {

std::vector<std::string> train_preset_names() { return {"nano-r1", "nano-r1-distill"}; }

ModelConfig train_preset(const std::string& name, int64_t vocab_size) {
  if (vocab_size < 8 || vocab_size > 1000000)
    fail("preset {}: vocabulary size {} is out of range [8, 1000000]", name, vocab_size);
  ModelConfig c;
  c.vocab_size = vocab_size;
  c.context_length = 1024;
  c.rms_norm_eps = 1e-6f;
  c.rope.theta = 10000.0;
  c.rope.scaling = RopeScaling::None;
  if (name == "nano-r1") {
    c.arch = "deepseek2";
    c.name = "nano-r1";
    c.hidden_size = 256;
    c.block_count = 5;  // 4 main blocks (1 dense + 3 MoE) and 1 MTP block
    c.nextn_predict_layers = 1;
    c.leading_dense_block_count = 1;
    c.head_count = 4;
    c.q_lora_rank = 0;
    c.kv_lora_rank = 64;
    c.qk_nope_head_dim = 32;
    c.qk_rope_head_dim = 16;
    c.v_head_dim = 32;
    c.mla_split_kv_b = true;
    c.feed_forward_length = 512;
    c.expert_count = 8;
    c.experts_per_token = 2;
    c.expert_shared_count = 1;
    c.expert_feed_forward_length = 128;
    c.expert_group_count = 1;
    c.expert_group_used_count = 1;
    c.expert_gating_func = ExpertGating::Sigmoid;
    c.expert_weights_norm = true;
    c.expert_weights_scale = 1.0;
    c.rope.type = RopeType::Normal;
    return with_mla_derived_fields(c);
  }
  if (name == "nano-r1-distill") {
    c.arch = "qwen2";
    c.name = "nano-r1-distill";
    c.hidden_size = 192;
    c.block_count = 4;
    c.head_count = 4;
    c.head_count_kv = 2;
    c.key_length = 48;
    c.value_length = 48;
    c.feed_forward_length = 448;
    c.rope.type = RopeType::Neox;
    c.rope.dimension_count = 48;
    return c;
  }
  std::string known;
  for (const std::string& n : train_preset_names()) known += (known.empty() ? "" : ", ") + n;
  fail("unknown model preset '{}' (known: {})", name, known);
}

}  // namespace whale::train
