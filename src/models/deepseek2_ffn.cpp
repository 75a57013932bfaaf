// The FFN sublayer of a deepseek2 block: a dense SwiGLU FFN for the first leading_dense_block_count blocks,
// DeepSeekMoE for the rest:
//   out = sum_{e in topk} w_e * down_e(silu(gate_e x) * up_e x) + down_s(silu(gate_s x) * up_s x)
// with the routing of deepseek2_moe.h. Tokens of a chunk are grouped by expert so that each expert's
// weights are read once per chunk.
#include <algorithm>
#include <cstring>

#include "kernels/ops.h"
#include "models/deepseek2_model.h"

namespace whale {
namespace {

// down(silu(gate x) * up x) for n rows of x into y.
void swiglu_ffn(Deepseek2Model::State& st, const Matrix& gate, const Matrix& up, const Matrix& down, const float* x,
                int64_t n, float* y) {
  Deepseek2Scratch& s = st.s;
  kernels::matmul(gate, x, n, s.gate.data(), *st.pool);
  kernels::matmul(up, x, n, s.up.data(), *st.pool);
  kernels::swiglu(s.gate.data(), s.up.data(), n * gate.rows, s.gate.data());
  kernels::matmul(down, s.gate.data(), n, y, *st.pool);
}

void moe_ffn(Deepseek2Model::State& st, const ModelConfig& c, const Deepseek2Block& b, const float* xn, int64_t n,
             float* out) {
  Deepseek2Scratch& s = st.s;
  const int64_t hidden = c.hidden_size;
  const int64_t experts = c.expert_count;
  const int64_t k = c.experts_per_token;
  const int64_t batch = st.max_batch;

  kernels::matmul(b.gate_inp, xn, n, s.router_logits.data(), *st.pool);
  std::fill(s.expert_counts.begin(), s.expert_counts.end(), 0);
  for (int64_t t = 0; t < n; ++t) {
    std::span<int32_t> ids(s.expert_ids.data() + t * k, static_cast<size_t>(k));
    std::span<float> weights(s.expert_weights.data() + t * k, static_cast<size_t>(k));
    route(st.router, std::span<const float>(s.router_logits.data() + t * experts, static_cast<size_t>(experts)),
          b.score_bias, *st.router_scratch, ids, weights);
    for (int64_t r = 0; r < k; ++r) {
      const int32_t e = ids[r];
      const int32_t slot = s.expert_counts[e]++;
      s.expert_tokens[e * batch + slot] = static_cast<int32_t>(t);
      s.expert_token_weights[e * batch + slot] = weights[r];
    }
  }

  std::fill(out, out + n * hidden, 0.0f);
  for (int64_t e = 0; e < experts; ++e) {
    const int64_t m = s.expert_counts[e];
    if (m == 0) continue;
    const int32_t* tokens = s.expert_tokens.data() + e * batch;
    for (int64_t i = 0; i < m; ++i) {
      std::memcpy(s.gathered.data() + i * hidden, xn + tokens[i] * hidden, sizeof(float) * hidden);
    }
    swiglu_ffn(st, b.gate_exps[e], b.up_exps[e], b.down_exps[e], s.gathered.data(), m, s.expert_out.data());
    for (int64_t i = 0; i < m; ++i) {
      const float w = s.expert_token_weights[e * batch + i];
      float* y = out + tokens[i] * hidden;
      const float* z = s.expert_out.data() + i * hidden;
      for (int64_t j = 0; j < hidden; ++j) y[j] += w * z[j];
    }
  }
  if (present(b.gate_shexp)) {
    swiglu_ffn(st, b.gate_shexp, b.up_shexp, b.down_shexp, xn, n, s.expert_out.data());
    kernels::add(out, s.expert_out.data(), n * hidden);
  }
}

}  // namespace

void deepseek2_ffn(Deepseek2Model::State& st, const ModelConfig& c, const Deepseek2Block& block, const float* xn,
                   int64_t n, float* out) {
  if (block.moe) {
    moe_ffn(st, c, block, xn, n, out);
  } else {
    swiglu_ffn(st, block.ffn_gate, block.ffn_up, block.ffn_down, xn, n, out);
  }
}

}  // namespace whale
