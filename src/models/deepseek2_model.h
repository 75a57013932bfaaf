// Internals of the deepseek2 implementation shared by its files (deepseek2.cpp: loading and the block loop;
// deepseek2_mla.cpp: attention; deepseek2_moe.cpp: FFNs; deepseek2_mtp.cpp: the MTP module): the weights of
// one block, the latent KV cache, and the scratch buffers sized once at load / create_cache.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/matrix.h"
#include "kernels/rope.h"
#include "models/deepseek2.h"
#include "models/deepseek2_moe.h"
#include "models/step_plan.h"
#include "models/weights.h"

namespace whale {

// A Matrix with data == nullptr is a tensor the file does not have.
inline bool present(const Matrix& m) { return m.data != nullptr; }

struct Deepseek2Block {
  // --- attention (MLA) ---
  std::vector<float> attn_norm;   // [hidden]
  Matrix q;                       // attn_q    [heads * (nope + rope), hidden]   (no q LoRA)
  Matrix q_a;                     // attn_q_a  [q_lora_rank, hidden]
  std::vector<float> q_a_norm;    // [q_lora_rank]
  Matrix q_b;                     // attn_q_b  [heads * (nope + rope), q_lora_rank]
  Matrix kv_a;                    // attn_kv_a_mqa [kv_lora_rank + rope, hidden]
  std::vector<float> kv_a_norm;   // [kv_lora_rank]
  std::vector<Matrix> k_b;        // attn_k_b per head [kv_lora_rank, nope]  (W_uk^T, split layout)
  std::vector<Matrix> v_b;        // attn_v_b per head [v_head, kv_lora_rank] (W_uv, split layout)
  Matrix kv_b;                    // attn_kv_b [heads * (nope + v_head), kv_lora_rank] (unsplit layout)
  Matrix o;                       // attn_output [hidden, heads * v_head]
  // --- FFN ---
  std::vector<float> ffn_norm;    // [hidden]
  bool moe = false;
  Matrix ffn_gate, ffn_up;        // dense: [ff, hidden]
  Matrix ffn_down;                // dense: [hidden, ff]
  Matrix gate_inp;                // [n_expert, hidden]
  std::vector<float> score_bias;  // exp_probs_b [n_expert] (V3), empty otherwise
  std::vector<Matrix> gate_exps, up_exps;  // per expert [ffe, hidden]
  std::vector<Matrix> down_exps;           // per expert [hidden, ffe]
  Matrix gate_shexp, up_shexp;    // [ffe * n_shared, hidden]
  Matrix down_shexp;              // [hidden, ffe * n_shared]
  // --- MTP module (blocks main_layers() .. block_count - 1) ---
  Matrix eh_proj;                 // nextn.eh_proj [hidden, 2 * hidden]
  std::vector<float> enorm, hnorm;           // [hidden]
  std::vector<float> shared_head_norm;       // [hidden], empty = output_norm
  Matrix shared_head_head;        // [vocab, hidden], absent = output
  Matrix embed_tokens;            // [vocab, hidden], absent = token_embd
};

// The MLA latent cache: per layer (MTP blocks included) and position one row [c_kv | k_pe] of
// kv_lora_rank + qk_rope_head_dim floats. Layers are contiguous so attention reads one strided array.
class Deepseek2Cache : public KvCache {
 public:
  Deepseek2Cache(int64_t capacity, int64_t layers, int64_t row);
  size_t bytes() const override;
  int64_t row() const { return row_; }
  float* layer(int64_t l) { return data_.get() + static_cast<size_t>(l) * capacity() * row_; }
  size_t row_bytes() const override;
  void read_rows(int64_t first, int64_t count, std::span<std::byte> out) const override;

 private:
  void store_rows(int64_t first, int64_t count, std::span<const std::byte> in) override;
  int64_t layers_;
  int64_t row_;
  std::unique_ptr<float[]> data_;  // uninitialized: pages are committed as positions are written
};

struct Deepseek2Scratch {
  // Per-token rows, max_batch tokens each.
  std::vector<float> x, xn, sub;        // [B, hidden] residual stream, normed input, sublayer output
  std::vector<float> q, qa, kva;        // [B, heads*(nope+rope)], [B, q_lora], [B, kv_lora+rope]
  std::vector<float> q_abs, lat;        // [B, heads*(kv_lora+rope)], [B, heads*kv_lora]
  std::vector<float> o_cat;             // [B, heads*v_head]
  std::vector<float> head_in, head_out; // per thread: [B, max(nope, kv_lora)], [B, max(kv_lora, v_head)]
  std::vector<float> cos, sin;          // [B, rope/2]
  std::vector<float> gate, up;          // [B, max ffn width]
  std::vector<float> router_logits;     // [B, n_expert]
  std::vector<int32_t> expert_ids;      // [B, experts_per_token]
  std::vector<float> expert_weights;    // [B, experts_per_token]
  std::vector<int32_t> expert_tokens;   // [n_expert, B]: tokens routed to each expert
  std::vector<float> expert_token_weights;  // [n_expert, B]
  std::vector<int32_t> expert_counts;   // [n_expert]
  std::vector<float> gathered;          // [B, hidden] inputs of the tokens routed to one expert
  std::vector<float> expert_out;        // [B, hidden]
  std::vector<float> hidden;            // [B, hidden] final hidden states (after output_norm)
  std::vector<int32_t> tokens;          // [B] the tokens of a pass's rows
  std::vector<float> logit_rows, logit_scratch;  // project_logits' gather buffers
  StepPlan plan;
  std::vector<float> mtp_cat;           // [B, 2*hidden]
  std::vector<float> row_buffers;       // per thread: one dequantized row of W_uk / W_uv
  // Grown by create_cache.
  std::vector<float> attention;         // kernels::attention_scratch_floats(context)
  std::vector<float> k_full, v_full;    // unabsorbed mode: [context, heads*(nope+rope)], [context, heads*v]
  int64_t context = 0;                  // positions the context-sized buffers cover
  int64_t hidden_rows = 0;              // rows of `hidden` written by the last forward
};

struct Deepseek2Model::State {
  explicit State(std::shared_ptr<const ModelSource> source) : weights(std::move(source)) {}

  Weights weights;
  ThreadPool* pool = nullptr;
  // One single-threaded pool per worker of `pool`, for matrix products run inside a parallel loop over heads.
  std::vector<std::unique_ptr<ThreadPool>> inline_pools;
  int64_t max_batch = 0;
  int64_t main_layers = 0;
  Rope rope;
  float softmax_scale = 1.0f;
  RouterConfig router;
  std::unique_ptr<RouterScratch> router_scratch;
  Matrix token_embd;               // [vocab, hidden]
  Matrix output;                   // [vocab, hidden] (token_embd when tied)
  std::vector<float> output_norm;  // [hidden]
  std::vector<Deepseek2Block> blocks;  // block_count (MTP modules last)
  Deepseek2Scratch s;
};

// deepseek2_mla.cpp: attention of block `layer` for the n rows of a pass, reading xn ([n, hidden], normed)
// and writing out ([n, hidden]); each segment's rows first store their latent rows in the segment's cache
// (a Deepseek2Cache), then attend over it.
void mla_attention(Deepseek2Model::State& st, const ModelConfig& c, int64_t layer, std::span<const Segment> segments,
                   const float* xn, int64_t n, MlaMode mode, float* out);

// deepseek2_moe.cpp: the block's FFN (dense or MoE + shared experts) over n rows of xn into out.
void deepseek2_ffn(Deepseek2Model::State& st, const ModelConfig& c, const Deepseek2Block& block, const float* xn,
                   int64_t n, float* out);

// deepseek2.cpp: one block over the residual stream st.s.x ([n, hidden], the rows of `segments`).
void deepseek2_block(Deepseek2Model::State& st, const ModelConfig& c, int64_t layer, std::span<const Segment> segments,
                     int64_t n, MlaMode mode);
// deepseek2.cpp: logits of the output head over n rows of normed hidden states.
void deepseek2_head(Deepseek2Model::State& st, const Matrix& head, const float* hidden, int64_t n, float* logits);

}  // namespace whale
