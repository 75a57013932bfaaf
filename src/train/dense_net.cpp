// The trainable qwen2 network (dense decoder, q/k/v biases, NEOX rotary embedding, SwiGLU FFN, tied or untied
// head), computing what models/dense.cpp computes at inference:
//
//   h   = x + W_o attention(rope(W_q n1 + b_q), rope(W_k n1 + b_k), W_v n1 + b_v)     n1 = rmsnorm(x)
//   out = h + W_down (silu(W_gate n2) * W_up n2)                                       n2 = rmsnorm(h)
#include <cmath>

#include "core/error.h"
#include "models/model.h"
#include "train/network_impl.h"

namespace whale::train {
namespace {

std::string blk(int64_t l, std::string_view suffix) { return fmt::format("blk.{}.{}", l, suffix); }

struct DenseLayerState {
  std::vector<float> x_in, xn1, rstd1, q, k, v, probs, o, x_mid, xn2, rstd2;
  SwigluFfn ffn;
};

class DenseNetwork final : public NetworkImpl {
 public:
  DenseNetwork(const ModelConfig& c, bool tied) : NetworkImpl(c), tied_(tied) {
    for (const TensorSpec& spec : tensor_specs(config)) {
      if (spec.name == "output.weight" && tied) continue;
      if (!spec.required && spec.name != "output.weight") continue;
      const bool decay = spec.kind == TensorKind::Matrix || spec.kind == TensorKind::Embedding;
      add(spec.name, spec.shape, decay);
    }
    rope_ = Rope(config.rope);
    layers_.resize(static_cast<size_t>(config.block_count));
  }

  void forward_packed() override {
    const ModelConfig& c = config;
    const int64_t n = rows, hidden = c.hidden_size;
    int64_t max_len = 0;
    for (const Segment& s : segments) max_len = std::max(max_len, s.length);
    table_.ensure(rope_, max_len);
    x_.resize(static_cast<size_t>(n * hidden));
    embed("token_embd.weight", tokens.data(), n, x_.data());
    for (int64_t l = 0; l < c.block_count; ++l) block_forward(l);
    head_forward(x_.data(), n, "output_norm.weight", head_name(), targets.data(), head);
  }

  float backward_packed(const std::vector<float>& coef, float /*mtp_weight*/) override {
    const int64_t n = rows, hidden = config.hidden_size;
    dx_.assign(static_cast<size_t>(n * hidden), 0.0f);
    head_backward(head, x_.data(), n, "output_norm.weight", head_name(), targets.data(), coef.data(), nullptr,
                  dx_.data());
    for (int64_t l = config.block_count - 1; l >= 0; --l) block_backward(l);
    embed_backward("token_embd.weight", tokens.data(), n, dx_.data());
    return 0.0f;
  }

 private:
  std::string head_name() const { return tied_ ? "token_embd.weight" : "output.weight"; }
  bool biased(int64_t l) const { return has(blk(l, "attn_q.bias")); }

  AttentionDims dims() const {
    const ModelConfig& c = config;
    AttentionDims d;
    d.heads = c.head_count;
    d.kv_heads = c.head_count_kv;
    d.dk = c.key_length;
    d.dv = c.value_length;
    d.q_stride = c.q_width();
    d.k_stride = c.kv_width();
    d.v_stride = c.v_width();
    d.o_stride = c.head_count * c.value_length;
    d.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.key_length)));
    return d;
  }

  void block_forward(int64_t l) {
    const ModelConfig& c = config;
    DenseLayerState& L = layers_[static_cast<size_t>(l)];
    const int64_t n = rows, hidden = c.hidden_size;
    const int64_t qw = c.q_width(), kw = c.kv_width(), vw = c.v_width();
    const int64_t aw = c.head_count * c.value_length, ff = c.feed_forward_length;
    const AttentionDims d = dims();
    L.x_in = x_;
    L.xn1.resize(static_cast<size_t>(n * hidden));
    L.rstd1.resize(static_cast<size_t>(n));
    rmsnorm_rows(x_.data(), w(blk(l, "attn_norm.weight")), n, hidden, c.rms_norm_eps, L.xn1.data(), L.rstd1.data(),
                 pool.get());
    L.q.resize(static_cast<size_t>(n * qw));
    L.k.resize(static_cast<size_t>(n * kw));
    L.v.resize(static_cast<size_t>(n * vw));
    linear(w(blk(l, "attn_q.weight")), qw, hidden, L.xn1.data(), n, L.q.data(), *pool);
    linear(w(blk(l, "attn_k.weight")), kw, hidden, L.xn1.data(), n, L.k.data(), *pool);
    linear(w(blk(l, "attn_v.weight")), vw, hidden, L.xn1.data(), n, L.v.data(), *pool);
    if (biased(l)) {
      add_bias(L.q.data(), w(blk(l, "attn_q.bias")), n, qw);
      add_bias(L.k.data(), w(blk(l, "attn_k.bias")), n, kw);
      add_bias(L.v.data(), w(blk(l, "attn_v.bias")), n, vw);
    }
    rope_rows(table_, segments, L.q.data(), qw, c.head_count, c.key_length, false);
    rope_rows(table_, segments, L.k.data(), kw, c.head_count_kv, c.key_length, false);
    L.probs.resize(static_cast<size_t>(attention_probs_size(d, segments)));
    L.o.resize(static_cast<size_t>(n * aw));
    attention_forward(d, segments, L.q.data(), L.k.data(), L.v.data(), L.o.data(), L.probs.data(), *pool);
    sub_.resize(static_cast<size_t>(n * hidden));
    linear(w(blk(l, "attn_output.weight")), hidden, aw, L.o.data(), n, sub_.data(), *pool);
    for (size_t i = 0; i < x_.size(); ++i) x_[i] += sub_[i];
    L.x_mid = x_;
    L.xn2.resize(static_cast<size_t>(n * hidden));
    L.rstd2.resize(static_cast<size_t>(n));
    rmsnorm_rows(x_.data(), w(blk(l, "ffn_norm.weight")), n, hidden, c.rms_norm_eps, L.xn2.data(), L.rstd2.data(),
                 pool.get());
    L.ffn.forward(w(blk(l, "ffn_gate.weight")), w(blk(l, "ffn_up.weight")), w(blk(l, "ffn_down.weight")), hidden, ff,
                  L.xn2.data(), n, sub_.data(), *pool);
    for (size_t i = 0; i < x_.size(); ++i) x_[i] += sub_[i];
  }

  // dx_ holds d loss / d (block output); leaves d loss / d (block input).
  void block_backward(int64_t l) {
    const ModelConfig& c = config;
    DenseLayerState& L = layers_[static_cast<size_t>(l)];
    const int64_t n = rows, hidden = c.hidden_size;
    const int64_t qw = c.q_width(), kw = c.kv_width(), vw = c.v_width();
    const int64_t aw = c.head_count * c.value_length, ff = c.feed_forward_length;
    const AttentionDims d = dims();
    // FFN branch: dx_ flows through unchanged (residual) and through the FFN.
    dxn_.assign(static_cast<size_t>(n * hidden), 0.0f);
    L.ffn.backward(w(blk(l, "ffn_gate.weight")), w(blk(l, "ffn_up.weight")), w(blk(l, "ffn_down.weight")), hidden, ff,
                   L.xn2.data(), n, dx_.data(), dxn_.data(), g(blk(l, "ffn_gate.weight")), g(blk(l, "ffn_up.weight")),
                   g(blk(l, "ffn_down.weight")), *pool);
    rmsnorm_rows_backward(L.x_mid.data(), w(blk(l, "ffn_norm.weight")), L.rstd2.data(), n, hidden, dxn_.data(),
                          dx_.data(), g(blk(l, "ffn_norm.weight")), pool.get());
    // Attention branch.
    std::vector<float>& d_o = zeroed(d_o_, n * aw);
    linear_backward(w(blk(l, "attn_output.weight")), hidden, aw, L.o.data(), n, dx_.data(), d_o.data(),
                    g(blk(l, "attn_output.weight")), *pool);
    std::vector<float>& dq = zeroed(dq_, n * qw);
    std::vector<float>& dk = zeroed(dk_, n * kw);
    std::vector<float>& dv = zeroed(dv_, n * vw);
    attention_backward(d, segments, L.q.data(), L.k.data(), L.v.data(), L.probs.data(), d_o.data(), dq.data(),
                       dk.data(), dv.data(), *pool);
    rope_rows(table_, segments, dq.data(), qw, c.head_count, c.key_length, true);
    rope_rows(table_, segments, dk.data(), kw, c.head_count_kv, c.key_length, true);
    if (biased(l)) {
      bias_grad(dq.data(), g(blk(l, "attn_q.bias")), n, qw);
      bias_grad(dk.data(), g(blk(l, "attn_k.bias")), n, kw);
      bias_grad(dv.data(), g(blk(l, "attn_v.bias")), n, vw);
    }
    dxn_.assign(static_cast<size_t>(n * hidden), 0.0f);
    linear_backward(w(blk(l, "attn_q.weight")), qw, hidden, L.xn1.data(), n, dq.data(), dxn_.data(),
                    g(blk(l, "attn_q.weight")), *pool);
    linear_backward(w(blk(l, "attn_k.weight")), kw, hidden, L.xn1.data(), n, dk.data(), dxn_.data(),
                    g(blk(l, "attn_k.weight")), *pool);
    linear_backward(w(blk(l, "attn_v.weight")), vw, hidden, L.xn1.data(), n, dv.data(), dxn_.data(),
                    g(blk(l, "attn_v.weight")), *pool);
    rmsnorm_rows_backward(L.x_in.data(), w(blk(l, "attn_norm.weight")), L.rstd1.data(), n, hidden, dxn_.data(),
                          dx_.data(), g(blk(l, "attn_norm.weight")), pool.get());
  }

  static void add_bias(float* y, const float* b, int64_t n, int64_t width) {
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t i = 0; i < width; ++i) y[t * width + i] += b[i];
    }
  }
  static void bias_grad(const float* dy, float* db, int64_t n, int64_t width) {
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t i = 0; i < width; ++i) db[i] += dy[t * width + i];
    }
  }

  bool tied_;
  Rope rope_;
  RopeTable table_;
  std::vector<DenseLayerState> layers_;
  std::vector<float> x_, sub_, dx_, dxn_;
  std::vector<float> d_o_, dq_, dk_, dv_;  // backward buffers
};

}  // namespace

std::unique_ptr<NetworkImpl> make_dense_network(const ModelConfig& config, bool tied) {
  if (config.arch != "qwen2") fail("train: dense training supports qwen2, got '{}'", config.arch);
  return std::make_unique<DenseNetwork>(config, tied);
}

}  // namespace whale::train
