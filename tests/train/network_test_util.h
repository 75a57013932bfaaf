// Tiny network configurations and helpers shared by the trainer-core tests (gradient checks, export,
// optimizer, checkpoints).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "models/config.h"
#include "models/deepseek2.h"
#include "train/network.h"

namespace whale::train::testing {

inline ModelConfig tiny_qwen2() {
  ModelConfig c;
  c.arch = "qwen2";
  c.name = "tiny";
  c.vocab_size = 13;
  c.context_length = 64;
  c.hidden_size = 8;
  c.block_count = 2;
  c.head_count = 2;
  c.head_count_kv = 1;  // grouped-query attention
  c.key_length = 4;
  c.value_length = 4;
  c.feed_forward_length = 12;
  c.rms_norm_eps = 1e-6f;
  c.rope.type = RopeType::Neox;
  c.rope.dimension_count = 4;
  c.rope.theta = 10000.0;
  return c;
}

// 1 dense block, 1 MoE block, and (mtp) 1 MTP block.
inline ModelConfig tiny_deepseek2(bool q_lora, bool mtp) {
  ModelConfig c;
  c.arch = "deepseek2";
  c.name = "tiny";
  c.vocab_size = 11;
  c.context_length = 64;
  c.hidden_size = 8;
  c.block_count = mtp ? 3 : 2;
  c.nextn_predict_layers = mtp ? 1 : 0;
  c.leading_dense_block_count = 1;
  c.head_count = 2;
  c.q_lora_rank = q_lora ? 6 : 0;
  c.kv_lora_rank = 6;
  c.qk_nope_head_dim = 4;
  c.qk_rope_head_dim = 4;
  c.v_head_dim = 4;
  c.mla_split_kv_b = true;
  c.feed_forward_length = 12;
  c.expert_count = 4;
  c.experts_per_token = 2;
  c.expert_shared_count = 1;
  c.expert_feed_forward_length = 6;
  c.expert_gating_func = ExpertGating::Sigmoid;
  c.expert_weights_norm = true;
  c.expert_weights_scale = 1.5;
  c.rms_norm_eps = 1e-6f;
  c.rope.type = RopeType::Normal;
  c.rope.theta = 10000.0;
  return with_mla_derived_fields(c);
}

// A directory under the system temp folder, removed with its contents at scope exit.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag) {
    path_ = std::filesystem::temp_directory_path() / ("whale-train-" + tag + "-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace whale::train::testing
