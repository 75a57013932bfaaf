// Multi-head Latent Attention and DeepSeekMoE with their backward passes (see deepseek_layers.h).
//
// MLA (DeepSeek-V2 section 2.1), W_uk / W_uv in llama.cpp's split layout attn_k_b [heads, kv_lora, nope]
// (W_uk^T per head) and attn_v_b [heads, v_head, kv_lora]:
//   q = W_q xn  or  W_qb rmsnorm(W_qa xn);   [c; k] = W_kva xn;   c_kv = rmsnorm(c);   k_pe = rope(k)
//   k_i = [W_uk_i c_kv | k_pe],  v_i = W_uv_i c_kv,  o_i = softmax(scale q_i k_i^T) v_i,  out = W_o [o_i]
// DeepSeekMoE: the router of models/deepseek2_moe.h (the selection uses the score-correction bias, which gets
// no gradient; the weights use the unbiased gate probabilities), routed + shared SwiGLU experts.
#include "train/deepseek_layers.h"

#include <cstring>

#include "core/error.h"
#include "models/deepseek2_moe.h"

namespace whale::train {
namespace {

std::string blk(int64_t l, std::string_view suffix) { return fmt::format("blk.{}.{}", l, suffix); }

// W_uk stacked for all heads as {heads * nope, kv_lora} rows (the transpose of each attn_k_b slice), so one
// linear() gives every head's k_nope.
void k_b_rows(const float* k_b, int64_t heads, int64_t rank, int64_t nope, std::vector<float>& out) {
  out.resize(static_cast<size_t>(heads * nope * rank));
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t r = 0; r < rank; ++r) {
      for (int64_t j = 0; j < nope; ++j) out[(h * nope + j) * rank + r] = k_b[(h * rank + r) * nope + j];
    }
  }
}

AttentionDims mla_dims(const ModelConfig& c, float scale) {
  const int64_t qk = c.qk_nope_head_dim + c.qk_rope_head_dim;
  AttentionDims d;
  d.heads = c.head_count;
  d.kv_heads = c.head_count;
  d.dk = qk;
  d.dv = c.v_head_dim;
  d.q_stride = c.head_count * qk;
  d.k_stride = c.head_count * qk;
  d.v_stride = c.head_count * c.v_head_dim;
  d.o_stride = c.head_count * c.v_head_dim;
  d.scale = scale;
  return d;
}

}  // namespace

void MlaLayer::forward(NetworkImpl& net, int64_t l, const RopeTable& rope, const std::vector<Segment>& segments,
                       const float* xn, int64_t n, float* out) {
  const ModelConfig& c = net.config;
  ThreadPool& pool = *net.pool;
  const int64_t hidden = c.hidden_size, heads = c.head_count;
  const int64_t nope = c.qk_nope_head_dim, rp = c.qk_rope_head_dim, qk = nope + rp;
  const int64_t rank = c.kv_lora_rank, vh = c.v_head_dim, row = rank + rp;
  const auto sz = [](int64_t v) { return static_cast<size_t>(v); };

  q.resize(sz(n * heads * qk));
  if (c.q_lora_rank > 0) {
    const int64_t qr = c.q_lora_rank;
    qa.resize(sz(n * qr));
    qa_n.resize(sz(n * qr));
    rstd_qa.resize(sz(n));
    linear(net.w(blk(l, "attn_q_a.weight")), qr, hidden, xn, n, qa.data(), pool);
    rmsnorm_rows(qa.data(), net.w(blk(l, "attn_q_a_norm.weight")), n, qr, c.rms_norm_eps, qa_n.data(), rstd_qa.data());
    linear(net.w(blk(l, "attn_q_b.weight")), heads * qk, qr, qa_n.data(), n, q.data(), pool);
  } else {
    linear(net.w(blk(l, "attn_q.weight")), heads * qk, hidden, xn, n, q.data(), pool);
  }
  std::vector<float>& kva = sized(kva_, n * row);
  linear(net.w(blk(l, "attn_kv_a_mqa.weight")), row, hidden, xn, n, kva.data(), pool);
  kv_c.resize(sz(n * rank));
  c_kv.resize(sz(n * rank));
  rstd_kv.resize(sz(n));
  std::vector<float>& k_pe = sized(k_pe_, n * rp);
  for (int64_t t = 0; t < n; ++t) {
    std::memcpy(kv_c.data() + t * rank, kva.data() + t * row, sizeof(float) * rank);
    std::memcpy(k_pe.data() + t * rp, kva.data() + t * row + rank, sizeof(float) * rp);
  }
  rmsnorm_rows(kv_c.data(), net.w(blk(l, "attn_kv_a_norm.weight")), n, rank, c.rms_norm_eps, c_kv.data(),
               rstd_kv.data());
  rope_rows(rope, segments, k_pe.data(), rp, 1, rp, false);
  rope_rows(rope, segments, q.data() + nope, heads * qk, heads, qk, false);

  std::vector<float>& kb = kb_;
  k_b_rows(net.w(blk(l, "attn_k_b.weight")), heads, rank, nope, kb);
  std::vector<float>& k_nope = sized(k_nope_, n * heads * nope);
  linear(kb.data(), heads * nope, rank, c_kv.data(), n, k_nope.data(), pool);
  k_full.resize(sz(n * heads * qk));
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      float* k = k_full.data() + (t * heads + h) * qk;
      std::memcpy(k, k_nope.data() + (t * heads + h) * nope, sizeof(float) * nope);
      std::memcpy(k + nope, k_pe.data() + t * rp, sizeof(float) * rp);
    }
  }
  v_full.resize(sz(n * heads * vh));
  linear(net.w(blk(l, "attn_v_b.weight")), heads * vh, rank, c_kv.data(), n, v_full.data(), pool);

  const AttentionDims d = mla_dims(c, softmax_scale);
  probs.resize(sz(attention_probs_size(d, segments)));
  o_cat.resize(sz(n * heads * vh));
  attention_forward(d, segments, q.data(), k_full.data(), v_full.data(), o_cat.data(), probs.data(), pool);
  linear(net.w(blk(l, "attn_output.weight")), hidden, heads * vh, o_cat.data(), n, out, pool);
}

void MlaLayer::backward(NetworkImpl& net, int64_t l, const RopeTable& rope, const std::vector<Segment>& segments,
                        const float* xn, int64_t n, const float* d_out, float* dxn) {
  const ModelConfig& c = net.config;
  ThreadPool& pool = *net.pool;
  const int64_t hidden = c.hidden_size, heads = c.head_count;
  const int64_t nope = c.qk_nope_head_dim, rp = c.qk_rope_head_dim, qk = nope + rp;
  const int64_t rank = c.kv_lora_rank, vh = c.v_head_dim, row = rank + rp;

  std::vector<float>& d_o = zeroed(d_o_, n * heads * vh);
  linear_backward(net.w(blk(l, "attn_output.weight")), hidden, heads * vh, o_cat.data(), n, d_out, d_o.data(),
                  net.g(blk(l, "attn_output.weight")), pool);
  std::vector<float>& dq = zeroed(dq_, static_cast<int64_t>(q.size()));
  std::vector<float>& dk = zeroed(dk_, static_cast<int64_t>(k_full.size()));
  std::vector<float>& dv = zeroed(dv_, static_cast<int64_t>(v_full.size()));
  attention_backward(mla_dims(c, softmax_scale), segments, q.data(), k_full.data(), v_full.data(), probs.data(),
                     d_o.data(), dq.data(), dk.data(), dv.data(), pool);

  // Latent: through W_uv and W_uk.
  std::vector<float>& dc = zeroed(dc_, n * rank);
  linear_backward(net.w(blk(l, "attn_v_b.weight")), heads * vh, rank, c_kv.data(), n, dv.data(), dc.data(),
                  net.g(blk(l, "attn_v_b.weight")), pool);
  std::vector<float>& dk_nope = sized(dk_nope_, n * heads * nope);
  std::vector<float>& dk_pe = zeroed(dk_pe_, n * rp);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      const float* k = dk.data() + (t * heads + h) * qk;
      std::memcpy(dk_nope.data() + (t * heads + h) * nope, k, sizeof(float) * nope);
      for (int64_t i = 0; i < rp; ++i) dk_pe[t * rp + i] += k[nope + i];
    }
  }
  std::vector<float>& kb = kb_;
  std::vector<float>& dkb = zeroed(dkb_, heads * nope * rank);
  k_b_rows(net.w(blk(l, "attn_k_b.weight")), heads, rank, nope, kb);
  linear_backward(kb.data(), heads * nope, rank, c_kv.data(), n, dk_nope.data(), dc.data(), dkb.data(), pool);
  float* gkb = net.g(blk(l, "attn_k_b.weight"));
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t r = 0; r < rank; ++r) {
      for (int64_t j = 0; j < nope; ++j) gkb[(h * rank + r) * nope + j] += dkb[(h * nope + j) * rank + r];
    }
  }
  std::vector<float>& dkv_c = zeroed(dkv_c_, n * rank);
  rmsnorm_rows_backward(kv_c.data(), net.w(blk(l, "attn_kv_a_norm.weight")), rstd_kv.data(), n, rank, dc.data(),
                        dkv_c.data(), net.g(blk(l, "attn_kv_a_norm.weight")));
  rope_rows(rope, segments, dk_pe.data(), rp, 1, rp, true);
  std::vector<float>& dkva = sized(dkva_, n * row);
  for (int64_t t = 0; t < n; ++t) {
    std::memcpy(dkva.data() + t * row, dkv_c.data() + t * rank, sizeof(float) * rank);
    std::memcpy(dkva.data() + t * row + rank, dk_pe.data() + t * rp, sizeof(float) * rp);
  }
  linear_backward(net.w(blk(l, "attn_kv_a_mqa.weight")), row, hidden, xn, n, dkva.data(), dxn,
                  net.g(blk(l, "attn_kv_a_mqa.weight")), pool);

  // Queries.
  rope_rows(rope, segments, dq.data() + nope, heads * qk, heads, qk, true);
  if (c.q_lora_rank > 0) {
    const int64_t qr = c.q_lora_rank;
    std::vector<float>& dqa_n = zeroed(dqa_n_, n * qr);
    std::vector<float>& dqa = zeroed(dqa_, n * qr);
    linear_backward(net.w(blk(l, "attn_q_b.weight")), heads * qk, qr, qa_n.data(), n, dq.data(), dqa_n.data(),
                    net.g(blk(l, "attn_q_b.weight")), pool);
    rmsnorm_rows_backward(qa.data(), net.w(blk(l, "attn_q_a_norm.weight")), rstd_qa.data(), n, qr, dqa_n.data(),
                          dqa.data(), net.g(blk(l, "attn_q_a_norm.weight")));
    linear_backward(net.w(blk(l, "attn_q_a.weight")), qr, hidden, xn, n, dqa.data(), dxn,
                    net.g(blk(l, "attn_q_a.weight")), pool);
  } else {
    linear_backward(net.w(blk(l, "attn_q.weight")), heads * qk, hidden, xn, n, dq.data(), dxn,
                    net.g(blk(l, "attn_q.weight")), pool);
  }
}

void MoeLayer::forward(NetworkImpl& net, int64_t l, const float* xn, int64_t n, float* out) {
  const ModelConfig& c = net.config;
  ThreadPool& pool = *net.pool;
  const int64_t hidden = c.hidden_size, ne = c.expert_count, k = c.experts_per_token;
  const int64_t ffe = c.expert_feed_forward_length;
  const auto sz = [](int64_t v) { return static_cast<size_t>(v); };
  const RouterConfig router = RouterConfig::from_model(c);
  RouterScratch scratch(router);

  logits.resize(sz(n * ne));
  probs.resize(sz(n * ne));
  ids.resize(sz(n * k));
  weights.resize(sz(n * k));
  linear(net.w(blk(l, "ffn_gate_inp.weight")), ne, hidden, xn, n, logits.data(), pool);
  std::span<const float> bias;
  if (net.has(blk(l, "exp_probs_b.bias"))) bias = std::span<const float>(net.w(blk(l, "exp_probs_b.bias")), sz(ne));
  experts.resize(sz(ne));
  for (ExpertRows& e : experts) {
    e.rows.clear();
    e.slots.clear();
  }
  load.assign(sz(ne), 0);
  for (int64_t t = 0; t < n; ++t) {
    const std::span<const float> lt(logits.data() + t * ne, sz(ne));
    route(router, lt, bias, scratch, std::span<int32_t>(ids.data() + t * k, sz(k)),
          std::span<float>(weights.data() + t * k, sz(k)));
    std::copy(scratch.probs.begin(), scratch.probs.end(), probs.begin() + t * ne);
    for (int64_t r = 0; r < k; ++r) {
      ExpertRows& e = experts[sz(ids[t * k + r])];
      e.rows.push_back(static_cast<int32_t>(t));
      e.slots.push_back(static_cast<int32_t>(r));
      ++load[sz(ids[t * k + r])];
    }
  }
  std::fill(out, out + n * hidden, 0.0f);
  const float* gate = net.w(blk(l, "ffn_gate_exps.weight"));
  const float* up = net.w(blk(l, "ffn_up_exps.weight"));
  const float* down = net.w(blk(l, "ffn_down_exps.weight"));
  for (int64_t ei = 0; ei < ne; ++ei) {
    ExpertRows& e = experts[sz(ei)];
    const auto m = static_cast<int64_t>(e.rows.size());
    if (m == 0) continue;
    e.x.resize(sz(m * hidden));
    e.y.resize(sz(m * hidden));
    for (int64_t i = 0; i < m; ++i)
      std::memcpy(e.x.data() + i * hidden, xn + e.rows[i] * hidden, sizeof(float) * hidden);
    e.ffn.forward(gate + ei * ffe * hidden, up + ei * ffe * hidden, down + ei * hidden * ffe, hidden, ffe, e.x.data(),
                  m, e.y.data(), pool);
    for (int64_t i = 0; i < m; ++i) {
      const float wgt = weights[sz(e.rows[i] * k + e.slots[i])];
      float* y = out + e.rows[i] * hidden;
      const float* z = e.y.data() + i * hidden;
      for (int64_t j = 0; j < hidden; ++j) y[j] += wgt * z[j];
    }
  }
  if (c.expert_shared_count > 0) {
    const int64_t fs = ffe * c.expert_shared_count;
    shared_y.resize(sz(n * hidden));
    shared.forward(net.w(blk(l, "ffn_gate_shexp.weight")), net.w(blk(l, "ffn_up_shexp.weight")),
                   net.w(blk(l, "ffn_down_shexp.weight")), hidden, fs, xn, n, shared_y.data(), pool);
    for (int64_t i = 0; i < n * hidden; ++i) out[i] += shared_y[sz(i)];
  }
}

void MoeLayer::backward(NetworkImpl& net, int64_t l, const float* xn, int64_t n, const float* d_out, float* dxn) {
  const ModelConfig& c = net.config;
  ThreadPool& pool = *net.pool;
  const int64_t hidden = c.hidden_size, ne = c.expert_count, k = c.experts_per_token;
  const int64_t ffe = c.expert_feed_forward_length;
  const auto sz = [](int64_t v) { return static_cast<size_t>(v); };
  const RouterConfig router = RouterConfig::from_model(c);

  std::vector<float>& dweights = zeroed(dweights_, n * k);
  const float* gate = net.w(blk(l, "ffn_gate_exps.weight"));
  const float* up = net.w(blk(l, "ffn_up_exps.weight"));
  const float* down = net.w(blk(l, "ffn_down_exps.weight"));
  float* ggate = net.g(blk(l, "ffn_gate_exps.weight"));
  float* gup = net.g(blk(l, "ffn_up_exps.weight"));
  float* gdown = net.g(blk(l, "ffn_down_exps.weight"));
  std::vector<float>& dy = dy_;
  std::vector<float>& dx = dx_;
  for (int64_t ei = 0; ei < ne; ++ei) {
    ExpertRows& e = experts[sz(ei)];
    const auto m = static_cast<int64_t>(e.rows.size());
    if (m == 0) continue;
    dy.resize(sz(m * hidden));
    dx.assign(sz(m * hidden), 0.0f);
    for (int64_t i = 0; i < m; ++i) {
      const size_t slot = sz(e.rows[i] * k + e.slots[i]);
      const float* dout = d_out + e.rows[i] * hidden;
      const float* z = e.y.data() + i * hidden;
      double dw = 0.0;
      for (int64_t j = 0; j < hidden; ++j) {
        dy[sz(i * hidden + j)] = weights[slot] * dout[j];
        dw += static_cast<double>(dout[j]) * z[j];
      }
      dweights[slot] = static_cast<float>(dw);
    }
    e.ffn.backward(gate + ei * ffe * hidden, up + ei * ffe * hidden, down + ei * hidden * ffe, hidden, ffe, e.x.data(),
                   m, dy.data(), dx.data(), ggate + ei * ffe * hidden, gup + ei * ffe * hidden,
                   gdown + ei * hidden * ffe, pool);
    for (int64_t i = 0; i < m; ++i) {
      float* d = dxn + e.rows[i] * hidden;
      const float* s = dx.data() + i * hidden;
      for (int64_t j = 0; j < hidden; ++j) d[j] += s[j];
    }
  }
  if (c.expert_shared_count > 0) {
    const int64_t fs = ffe * c.expert_shared_count;
    shared.backward(net.w(blk(l, "ffn_gate_shexp.weight")), net.w(blk(l, "ffn_up_shexp.weight")),
                    net.w(blk(l, "ffn_down_shexp.weight")), hidden, fs, xn, n, d_out, dxn,
                    net.g(blk(l, "ffn_gate_shexp.weight")), net.g(blk(l, "ffn_up_shexp.weight")),
                    net.g(blk(l, "ffn_down_shexp.weight")), pool);
  }

  // Router: weight_r = scale * p_r / S (S = sum of the chosen p, when normalized), p = gate(logits).
  std::vector<float>& dlogits = zeroed(dlogits_, n * ne);
  std::vector<double> dp(sz(ne));
  for (int64_t t = 0; t < n; ++t) {
    const float* p = probs.data() + t * ne;
    const int32_t* chosen = ids.data() + t * k;
    const float* dw = dweights.data() + t * k;
    std::fill(dp.begin(), dp.end(), 0.0);
    double sum = 0.0, weighted = 0.0;
    for (int64_t r = 0; r < k; ++r) {
      sum += p[chosen[r]];
      weighted += static_cast<double>(dw[r]) * p[chosen[r]];
    }
    const double scale = router.scale;
    const bool floored = sum < 6.103515625e-5;
    for (int64_t r = 0; r < k; ++r) {
      const size_t e = sz(chosen[r]);
      if (!router.normalize) {
        dp[e] = scale * dw[r];
      } else if (floored) {
        dp[e] = scale * dw[r] / 6.103515625e-5;
      } else {
        dp[e] = scale * (dw[r] / sum - weighted / (sum * sum));
      }
    }
    float* dl = dlogits.data() + t * ne;
    if (router.gating == ExpertGating::Sigmoid) {
      for (int64_t e = 0; e < ne; ++e) dl[e] = static_cast<float>(dp[sz(e)] * p[e] * (1.0 - p[e]));
    } else {
      double s = 0.0;
      for (int64_t e = 0; e < ne; ++e) s += dp[sz(e)] * p[e];
      for (int64_t e = 0; e < ne; ++e) dl[e] = static_cast<float>(p[e] * (dp[sz(e)] - s));
    }
  }
  linear_backward(net.w(blk(l, "ffn_gate_inp.weight")), ne, hidden, xn, n, dlogits.data(), dxn,
                  net.g(blk(l, "ffn_gate_inp.weight")), pool);
}

}  // namespace whale::train
