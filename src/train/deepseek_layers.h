// The trainable sublayers of deepseek2 (train/deepseek_layers.cpp): Multi-head Latent Attention and the
// DeepSeekMoE FFN, each with the activations its backward needs. They compute what models/deepseek2_mla.cpp
// and models/deepseek2_ffn.cpp compute at inference (MLA here in its unabsorbed form, the same function).
#pragma once

#include <cstdint>
#include <vector>

#include "train/network_impl.h"

namespace whale::train {

struct MlaLayer {
  std::vector<float> qa, qa_n, rstd_qa;    // q LoRA: [n, q_lora_rank] before / after its norm, [n]
  std::vector<float> q;                    // [n, heads * (nope + rope)], rope part rotated
  std::vector<float> kv_c, c_kv, rstd_kv;  // [n, kv_lora_rank] latent before / after attn_kv_a_norm, [n]
  std::vector<float> k_full, v_full;       // [n, heads * (nope + rope)], [n, heads * v_head]
  std::vector<float> probs;                // attention probabilities
  std::vector<float> o_cat;                // [n, heads * v_head]
  float softmax_scale = 1.0f;
  // Step-to-step buffers of forward / backward (contents not kept between calls).
  std::vector<float> kva_, k_pe_, kb_, k_nope_, d_o_, dq_, dk_, dv_, dc_, dk_nope_, dk_pe_, dkb_, dkv_c_, dkva_, dqa_n_,
      dqa_;

  // out [n, hidden] = MLA(xn) for block l over the segments.
  void forward(NetworkImpl& net, int64_t l, const RopeTable& rope, const std::vector<Segment>& segments,
               const float* xn, int64_t n, float* out);
  // dxn += gradient through the attention; parameter gradients accumulate.
  void backward(NetworkImpl& net, int64_t l, const RopeTable& rope, const std::vector<Segment>& segments,
                const float* xn, int64_t n, const float* d_out, float* dxn);
};

struct ExpertRows {
  std::vector<int32_t> rows;   // token rows routed to the expert, in row order
  std::vector<int32_t> slots;  // which of the token's k choices
  std::vector<float> x;        // [m, hidden] gathered inputs
  std::vector<float> y;        // [m, hidden] expert outputs (before the routing weight)
  SwigluFfn ffn;
};

struct MoeLayer {
  std::vector<float> logits, probs;  // [n, experts] router logits, gate probabilities (unbiased)
  std::vector<int32_t> ids;          // [n, k] chosen experts
  std::vector<float> weights;        // [n, k] their weights (normalized, scaled)
  std::vector<ExpertRows> experts;
  SwigluFfn shared;
  std::vector<float> shared_y;
  std::vector<int64_t> load;                         // tokens per expert in the last forward
  std::vector<float> dweights_, dy_, dx_, dlogits_;  // backward buffers

  void forward(NetworkImpl& net, int64_t l, const float* xn, int64_t n, float* out);
  void backward(NetworkImpl& net, int64_t l, const float* xn, int64_t n, const float* d_out, float* dxn);
};

}  // namespace whale::train
