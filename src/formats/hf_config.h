// A Hugging Face config.json for the supported architectures (llama, qwen2, qwen3, deepseek_v2, deepseek_v3),
// parsed once and validated, and its translation into llama.cpp's GGUF metadata keys.
#pragma once

#include <cstdint>
#include <string>

#include "formats/gguf.h"

namespace whale::hf {

struct RopeScaling {
  std::string type;  // "", "linear", "yarn", "llama3", "dynamic", ...
  double factor = 1.0;
  int64_t original_max_position_embeddings = 0;
  // yarn
  double beta_fast = 0, beta_slow = 0, mscale = 0, mscale_all_dim = 0;
  bool has_beta_fast = false, has_beta_slow = false, has_mscale_all_dim = false;
  double attention_factor = 0, extrapolation_factor = 0;
  bool has_attention_factor = false, has_extrapolation_factor = false;
  // llama3
  double low_freq_factor = 1.0, high_freq_factor = 4.0;
};

struct Config {
  std::string path;        // of config.json, for messages
  std::string model_type;  // HF name: llama, qwen2, qwen3, deepseek_v2, deepseek_v3
  std::string arch;        // GGUF general.architecture: llama, qwen2, qwen3, deepseek2

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t intermediate_size = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // dense models; hidden_size / heads when config.json has none
  bool has_head_dim = false;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v biases (always true for qwen2)
  RopeScaling rope_scaling;

  // deepseek_v2 / deepseek_v3
  int64_t q_lora_rank = 0;  // 0: plain q projection (V2-Lite)
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  int64_t n_routed_experts = 0;  // 0: no MoE
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t moe_intermediate_size = 0;
  int64_t first_k_dense_replace = 0;
  int64_t n_group = 0, topk_group = 0;  // 0 when absent
  int64_t num_nextn_predict_layers = 0;
  double routed_scaling_factor = 1.0;
  bool has_routed_scaling_factor = false;
  bool norm_topk_prob = false;
  std::string scoring_func;  // "softmax", "sigmoid" or "" when absent
  std::string topk_method;

  bool is_deepseek() const { return arch == "deepseek2"; }
};

// Parses and validates config.json; throws whale::Error naming the file and key.
Config parse_config(const std::string& config_path);

// Writes the llama.cpp GGUF keys for `config` into `out` (general.architecture first). With `mtp_layers` > 0
// the block count includes that many multi-token-prediction layers and nextn_predict_layers is set.
void write_metadata(const Config& config, int64_t mtp_layers, gguf::Metadata& out);

}  // namespace whale::hf
