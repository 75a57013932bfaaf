// ModelConfig: every hyperparameter a model needs, parsed once from metadata that uses llama.cpp's GGUF key
// names ("{arch}.embedding_length", "{arch}.attention.head_count_kv", ...). GGUF files carry these keys
// directly; Hugging Face folders are translated into the same keys by formats/model_source, so this is the
// single place where a config field is read and checked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "kernels/rope.h"  // RopeConfig

namespace whale {

// Expert gate scoring function; values are llama.cpp's {arch}.expert_gating_func ids.
enum class ExpertGating { Softmax = 1, Sigmoid = 2 };

struct ModelConfig {
  std::string arch;              // general.architecture: "llama", "qwen2", "qwen3", "deepseek2"
  std::string name;              // general.name (may be empty)
  int64_t vocab_size = 0;        // {arch}.vocab_size, else the length of tokenizer.ggml.tokens
  int64_t context_length = 0;    // {arch}.context_length (training context)
  int64_t hidden_size = 0;       // {arch}.embedding_length
  // {arch}.block_count. As in llama.cpp, this counts the MTP (nextn) layers too: the main model is layers
  // 0 .. main_block_count()-1 and the MTP modules are the last nextn_predict_layers blocks.
  int64_t block_count = 0;
  int64_t head_count = 0;        // {arch}.attention.head_count
  int64_t head_count_kv = 0;     // {arch}.attention.head_count_kv (defaults to head_count)
  int64_t key_length = 0;        // {arch}.attention.key_length: per-head q/k dim (default hidden/heads)
  int64_t value_length = 0;      // {arch}.attention.value_length: per-head v dim (default key_length)
  int64_t feed_forward_length = 0;  // {arch}.feed_forward_length (dense FFN intermediate size)
  float rms_norm_eps = 1e-6f;    // {arch}.attention.layer_norm_rms_epsilon
  RopeConfig rope;

  // --- deepseek2 (all zero / defaults for dense models) ---
  int64_t q_lora_rank = 0;       // {arch}.attention.q_lora_rank; 0 = plain q projection (V2-Lite)
  int64_t kv_lora_rank = 0;      // {arch}.attention.kv_lora_rank (512)
  // Per-head dims of MLA. Newer llama.cpp files store the "absorbed" view in key_length/value_length
  // (kv_lora_rank + rope, kv_lora_rank) and the real per-head dims in key_length_mla/value_length_mla;
  // older files only have key_length = qk_nope + qk_rope and value_length = v_head. Both are handled here.
  int64_t qk_nope_head_dim = 0;  // key_length(_mla) - rope.dimension_count (128)
  int64_t qk_rope_head_dim = 0;  // rope.dimension_count (64)
  int64_t v_head_dim = 0;        // value_length(_mla) (128)
  bool mla_split_kv_b = false;   // true when the file stores attn_k_b/attn_v_b (key_length_mla present)
  int64_t expert_count = 0;      // {arch}.expert_count: routed experts (n_routed_experts)
  int64_t experts_per_token = 0; // {arch}.expert_used_count (num_experts_per_tok)
  int64_t expert_shared_count = 0;  // {arch}.expert_shared_count (n_shared_experts)
  int64_t expert_feed_forward_length = 0;  // {arch}.expert_feed_forward_length (moe_intermediate_size)
  int64_t leading_dense_block_count = 0;   // {arch}.leading_dense_block_count (first_k_dense_replace)
  int64_t expert_group_count = 1;          // {arch}.expert_group_count (n_group)
  int64_t expert_group_used_count = 1;     // {arch}.expert_group_used_count (topk_group)
  ExpertGating expert_gating_func = ExpertGating::Softmax;  // {arch}.expert_gating_func
  bool expert_weights_norm = false;        // {arch}.expert_weights_norm (norm_topk_prob)
  double expert_weights_scale = 1.0;       // {arch}.expert_weights_scale (routed_scaling_factor)
  int64_t nextn_predict_layers = 0;        // {arch}.nextn_predict_layers (MTP modules after the main layers)

  bool is_deepseek2() const { return arch == "deepseek2"; }
  int64_t main_block_count() const { return block_count - nextn_predict_layers; }
  // Per-layer q/k/v widths of the dense attention (heads * head dim).
  int64_t q_width() const { return head_count * key_length; }
  int64_t kv_width() const { return head_count_kv * key_length; }
  int64_t v_width() const { return head_count_kv * value_length; }
};

// Reads and validates a ModelConfig. Throws whale::Error naming metadata.source() and the key when a key is
// missing, has the wrong type or a value out of range (zero heads, head_count not a multiple of
// head_count_kv, rope dims larger than the head, ...). Unknown architectures are accepted here (the model
// registry rejects them with the list of supported ones).
ModelConfig parse_model_config(const gguf::Metadata& metadata);

// Writes `config` back as llama.cpp metadata keys (general.architecture and the {arch}.* keys). Used by
// mkmodel and tests; parse_model_config(write) round-trips.
void write_model_config(const ModelConfig& config, gguf::Metadata& metadata);

}  // namespace whale
