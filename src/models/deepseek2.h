// DeepSeek-V2 / V3 / R1 (GGUF architecture "deepseek2"; HF model_type deepseek_v2 / deepseek_v3): Multi-head
// Latent Attention, DeepSeekMoE and the multi-token-prediction (MTP) module.
//
// Per block (RMSNorm before each sublayer, residual after):
//   attention: MLA (models/deepseek2_mla.cpp). The KV cache keeps per token and layer only the normalized
//              latent c_kv (kv_lora_rank) and the shared rotated key k_pe (qk_rope_head_dim): 576 floats for
//              V3. Attention runs in latent space with the key and value up-projections absorbed.
//   ffn:       the first leading_dense_block_count blocks use a dense SwiGLU FFN, the rest DeepSeekMoE
//              (models/deepseek2_moe.cpp): routed experts plus shared experts.
// The last nextn_predict_layers blocks of the file (GGUF blk.{n_main}...) are MTP modules, not run by
// forward(); mtp_forward() runs them (models/deepseek2_mtp.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "models/model.h"

namespace whale {

// How decode and prefill attend.
//   Absorbed:   q_lat = W_uk^T q_nope per head, scores against the latent cache [c_kv | k_pe] and values
//               c_kv, then o = W_uv (softmax . c_kv): multi-query attention with 576-wide keys and
//               512-wide values. The default, and what makes the small cache pay off.
//   Unabsorbed: expands k_nope = W_uk c_kv and v = W_uv c_kv of every cached position for every head (the
//               textbook form; for tests and comparisons).
enum class MlaMode { Absorbed, Unabsorbed };

class Deepseek2Model : public Model {
 public:
  ~Deepseek2Model() override;

  std::unique_ptr<KvCache> create_cache(int64_t context_length) override;
  size_t kv_bytes_per_token() const override;
  void forward(std::span<const SequenceBatch> batch) override;
  using Model::forward;

  void set_mla_mode(MlaMode mode) { mla_mode_ = mode; }
  MlaMode mla_mode() const { return mla_mode_; }

  // Blocks run by forward() (block_count minus the MTP modules).
  int64_t main_layers() const;
  bool has_mtp() const { return config_.nextn_predict_layers > 0; }

  // The final hidden states (after output_norm, the input of the output head) of the tokens of the last
  // forward() call, [tokens, hidden_size]; the input MTP takes. A call longer than max_batch_tokens runs in
  // passes, and only the last pass's rows are kept (all of its sequences' rows, in batch order).
  std::span<const float> hidden_states() const;

  // MTP (DeepSeek-V3): for tokens at positions start_pos .. start_pos + n - 1, with `hidden` the main
  // model's final hidden states there ([n, hidden_size], from hidden_states()) and `next_tokens` the tokens
  // that follow each of them (x_{t+1}), predicts the token after next (x_{t+2}):
  //   h' = Block(eh_proj([rmsnorm_e(Emb(x_{t+1})); rmsnorm_h(h_t)])), logits = Head(shared_head_norm(h'))
  // with the embedding and the output head shared with the main model (the module's own copies when the
  // file has them). The block keeps its own latent cache entries in `cache` (layer main_layers()), so
  // positions must be fed in order as in forward(). `logits` as in SequenceBatch. Requires has_mtp().
  void mtp_forward(std::span<const float> hidden, std::span<const int32_t> next_tokens, int64_t start_pos,
                   KvCache& cache, std::span<float> logits);

  struct State;  // weights and scratch (deepseek2_model.h)

 private:
  friend std::unique_ptr<Model> load_deepseek2_model(std::shared_ptr<const ModelSource> source,
                                                     ModelConfig config, const LoadOptions& options);
  Deepseek2Model(ModelConfig config, std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
  MlaMode mla_mode_ = MlaMode::Absorbed;
};

// Named configurations for `whale mkmodel --arch deepseek2 --preset NAME`:
//   tiny-v2-lite  V2-Lite layout at toy size: no q LoRA, softmax gate, greedy top-k, one leading dense block.
//   tiny-v3       V3 layout at toy size: q LoRA, sigmoid gate with score bias, group-limited top-k,
//                 norm_topk_prob, routed_scaling_factor, YaRN, one MTP module.
//   v2-lite       DeepSeek-V2-Lite's real dimensions (27 blocks).
//   v3-layer      DeepSeek-V3's real dimensions with 4 blocks (1 dense, 2 MoE, 1 MTP).
// vocab_size is left to the caller (it follows the tokenizer the model is written with).
std::optional<ModelConfig> deepseek2_preset(std::string_view name);

// Fills the fields of a deepseek2 config that follow from the MLA dimensions: rope.dimension_count,
// head_count_kv (1: multi-query attention over the latent), key_length and value_length.
ModelConfig with_mla_derived_fields(ModelConfig c);
std::vector<std::string_view> deepseek2_preset_names();

}  // namespace whale
