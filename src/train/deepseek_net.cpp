// The trainable deepseek2 network: token embedding, main blocks (MLA + dense FFN for the first
// leading_dense_block_count blocks, DeepSeekMoE after), output_norm + head, and DeepSeek-V3's MTP module
// (technical report section 2.2) as models/deepseek2_mtp.cpp runs it:
//   h'_t = eh_proj([rmsnorm_e(Emb(x_{t+1})); rmsnorm_h(h_t)]),  h''_t = Block(h'_t),
//   log p(x_{t+2}) from Head(output_norm(h''_t))
// where h_t is the main model's final hidden state after output_norm. The MTP loss flows back into the main
// model through h_t and the shared embedding and head.
#include <cstring>

#include "core/error.h"
#include "models/deepseek2_rope.h"
#include "models/model.h"
#include "train/deepseek_layers.h"
#include "train/network_impl.h"

namespace whale::train {
namespace {

std::string blk(int64_t l, std::string_view suffix) { return fmt::format("blk.{}.{}", l, suffix); }

struct BlockState {
  std::vector<float> x_in, xn1, rstd1, x_mid, xn2, rstd2;
  MlaLayer mla;
  SwigluFfn dense;
  MoeLayer moe;
};

class Deepseek2Network final : public NetworkImpl {
 public:
  explicit Deepseek2Network(const ModelConfig& c) : NetworkImpl(c) {
    if (!c.mla_split_kv_b) fail("train: deepseek2 training needs the split attn_k_b / attn_v_b layout");
    if (c.nextn_predict_layers > 1) fail("train: at most one MTP block is supported, got {}", c.nextn_predict_layers);
    for (const TensorSpec& spec : tensor_specs(config)) {
      if (!spec.required) continue;
      const bool decay = spec.kind == TensorKind::Matrix || spec.kind == TensorKind::Embedding;
      const bool trainable = spec.name.find("exp_probs_b") == std::string::npos;
      add(spec.name, spec.shape, decay && trainable, trainable);
    }
    rope_ = deepseek2_rope(config);
    softmax_scale_ = deepseek2_rope_scaling(config).softmax_scale;
    blocks_.resize(static_cast<size_t>(config.block_count));
    for (BlockState& b : blocks_) b.mla.softmax_scale = softmax_scale_;
  }

  void forward_packed() override {
    const ModelConfig& c = config;
    const int64_t n = rows, hidden = c.hidden_size;
    int64_t max_len = 0;
    for (const Segment& s : segments) max_len = std::max(max_len, s.length);
    table_.ensure(rope_, max_len);
    x_.resize(static_cast<size_t>(n * hidden));
    embed("token_embd.weight", tokens.data(), n, x_.data());
    for (int64_t l = 0; l < c.main_block_count(); ++l) block_forward(l, segments, n, x_);
    head_forward(x_.data(), n, "output_norm.weight", "output.weight", targets.data(), head);
    if (c.nextn_predict_layers > 0) mtp_forward();
  }

  float backward_packed(const std::vector<float>& coef, float mtp_weight) override {
    const ModelConfig& c = config;
    const int64_t n = rows, hidden = c.hidden_size;
    float mtp_loss = 0.0f;
    std::vector<float>& dhn = dhn_;
    dhn.clear();
    if (c.nextn_predict_layers > 0) {
      dhn.assign(static_cast<size_t>(n * hidden), 0.0f);
      mtp_loss = mtp_backward(coef, mtp_weight, dhn.data());
    }
    dx_.assign(static_cast<size_t>(n * hidden), 0.0f);
    head_backward(head, x_.data(), n, "output_norm.weight", "output.weight", targets.data(), coef.data(),
                  dhn.empty() ? nullptr : dhn.data(), dx_.data());
    for (int64_t l = c.main_block_count() - 1; l >= 0; --l) block_backward(l, segments, n, dx_);
    embed_backward("token_embd.weight", tokens.data(), n, dx_.data());
    return mtp_loss;
  }

  std::vector<std::pair<std::string, std::vector<int64_t>>> expert_loads() const override {
    std::vector<std::pair<std::string, std::vector<int64_t>>> out;
    for (int64_t l = 0; l < config.block_count; ++l) {
      if (!moe(l) || !has(blk(l, "exp_probs_b.bias"))) continue;
      if (l >= config.main_block_count() && mtp_rows_ == 0) continue;
      out.emplace_back(blk(l, "exp_probs_b.bias"), blocks_[static_cast<size_t>(l)].moe.load);
    }
    return out;
  }

  std::vector<float> mtp_logits() const override { return mtp_head_.logits; }

 private:
  bool moe(int64_t l) const { return l >= config.leading_dense_block_count; }

  void block_forward(int64_t l, const std::vector<Segment>& segs, int64_t n, std::vector<float>& x) {
    const ModelConfig& c = config;
    BlockState& b = blocks_[static_cast<size_t>(l)];
    const int64_t hidden = c.hidden_size;
    const auto size = static_cast<size_t>(n * hidden);
    b.x_in.assign(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(size));
    b.xn1.resize(size);
    b.rstd1.resize(static_cast<size_t>(n));
    rmsnorm_rows(x.data(), w(blk(l, "attn_norm.weight")), n, hidden, c.rms_norm_eps, b.xn1.data(), b.rstd1.data(),
                 pool.get());
    sub_.resize(size);
    b.mla.forward(*this, l, table_, segs, b.xn1.data(), n, sub_.data());
    for (size_t i = 0; i < size; ++i) x[i] += sub_[i];
    b.x_mid.assign(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(size));
    b.xn2.resize(size);
    b.rstd2.resize(static_cast<size_t>(n));
    rmsnorm_rows(x.data(), w(blk(l, "ffn_norm.weight")), n, hidden, c.rms_norm_eps, b.xn2.data(), b.rstd2.data(),
                 pool.get());
    if (moe(l)) {
      b.moe.forward(*this, l, b.xn2.data(), n, sub_.data());
    } else {
      b.dense.forward(w(blk(l, "ffn_gate.weight")), w(blk(l, "ffn_up.weight")), w(blk(l, "ffn_down.weight")), hidden,
                      c.feed_forward_length, b.xn2.data(), n, sub_.data(), *pool);
    }
    for (size_t i = 0; i < size; ++i) x[i] += sub_[i];
  }

  // dx: d loss / d (block output) in, d loss / d (block input) out.
  void block_backward(int64_t l, const std::vector<Segment>& segs, int64_t n, std::vector<float>& dx) {
    const ModelConfig& c = config;
    BlockState& b = blocks_[static_cast<size_t>(l)];
    const int64_t hidden = c.hidden_size;
    dxn_.assign(static_cast<size_t>(n * hidden), 0.0f);
    if (moe(l)) {
      b.moe.backward(*this, l, b.xn2.data(), n, dx.data(), dxn_.data());
    } else {
      b.dense.backward(w(blk(l, "ffn_gate.weight")), w(blk(l, "ffn_up.weight")), w(blk(l, "ffn_down.weight")), hidden,
                       c.feed_forward_length, b.xn2.data(), n, dx.data(), dxn_.data(), g(blk(l, "ffn_gate.weight")),
                       g(blk(l, "ffn_up.weight")), g(blk(l, "ffn_down.weight")), *pool);
    }
    rmsnorm_rows_backward(b.x_mid.data(), w(blk(l, "ffn_norm.weight")), b.rstd2.data(), n, hidden, dxn_.data(),
                          dx.data(), g(blk(l, "ffn_norm.weight")), pool.get());
    dxn_.assign(static_cast<size_t>(n * hidden), 0.0f);
    b.mla.backward(*this, l, table_, segs, b.xn1.data(), n, dx.data(), dxn_.data());
    rmsnorm_rows_backward(b.x_in.data(), w(blk(l, "attn_norm.weight")), b.rstd1.data(), n, hidden, dxn_.data(),
                          dx.data(), g(blk(l, "attn_norm.weight")), pool.get());
  }

  // MTP rows: row t of a sequence (t <= len - 2) combines h_t with the embedding of token t + 1 and predicts
  // token t + 2 (no target on the last row).
  void mtp_forward() {
    const ModelConfig& c = config;
    const int64_t hidden = c.hidden_size, layer = c.main_block_count();
    mtp_segments_.clear();
    mtp_main_row_.clear();
    mtp_next_.clear();
    mtp_targets_.clear();
    for (const Segment& s : segments) {
      mtp_segments_.push_back({static_cast<int64_t>(mtp_main_row_.size()), s.length - 1});
      for (int64_t t = 0; t + 1 < s.length; ++t) {
        mtp_main_row_.push_back(static_cast<int32_t>(s.offset + t));
        mtp_next_.push_back(tokens[static_cast<size_t>(s.offset + t + 1)]);
        mtp_targets_.push_back(t + 2 < s.length ? tokens[static_cast<size_t>(s.offset + t + 2)] : -1);
      }
    }
    const auto m = static_cast<int64_t>(mtp_main_row_.size());
    mtp_rows_ = m;
    const auto size = static_cast<size_t>(m * hidden);
    mtp_emb_.resize(size);
    mtp_h_.resize(size);
    embed("token_embd.weight", mtp_next_.data(), m, mtp_emb_.data());
    for (int64_t i = 0; i < m; ++i) {
      std::memcpy(mtp_h_.data() + i * hidden, head.xn.data() + mtp_main_row_[static_cast<size_t>(i)] * hidden,
                  sizeof(float) * hidden);
    }
    std::vector<float>& en = sized(en_, m * hidden);
    std::vector<float>& hn = sized(hn_, m * hidden);
    mtp_rstd_e_.resize(static_cast<size_t>(m));
    mtp_rstd_h_.resize(static_cast<size_t>(m));
    rmsnorm_rows(mtp_emb_.data(), w(blk(layer, "nextn.enorm.weight")), m, hidden, c.rms_norm_eps, en.data(),
                 mtp_rstd_e_.data(), pool.get());
    rmsnorm_rows(mtp_h_.data(), w(blk(layer, "nextn.hnorm.weight")), m, hidden, c.rms_norm_eps, hn.data(),
                 mtp_rstd_h_.data(), pool.get());
    mtp_cat_.resize(size * 2);
    for (int64_t i = 0; i < m; ++i) {
      std::memcpy(mtp_cat_.data() + i * 2 * hidden, en.data() + i * hidden, sizeof(float) * hidden);
      std::memcpy(mtp_cat_.data() + i * 2 * hidden + hidden, hn.data() + i * hidden, sizeof(float) * hidden);
    }
    mtp_x_.resize(size);
    linear(w(blk(layer, "nextn.eh_proj.weight")), hidden, 2 * hidden, mtp_cat_.data(), m, mtp_x_.data(), *pool);
    block_forward(layer, mtp_segments_, m, mtp_x_);
    head_forward(mtp_x_.data(), m, "output_norm.weight", "output.weight", mtp_targets_.data(), mtp_head_);
  }

  // Adds the gradient of mtp_weight * (MTP loss) to the parameters and to dhn (the main head's normed input).
  float mtp_backward(const std::vector<float>& coef, float mtp_weight, float* dhn) {
    const ModelConfig& c = config;
    const int64_t hidden = c.hidden_size, layer = c.main_block_count(), m = mtp_rows_;
    std::vector<float>& mcoef = zeroed(mcoef_, m);
    double loss = 0.0;
    for (int64_t i = 0; i < m; ++i) {
      if (mtp_targets_[static_cast<size_t>(i)] < 0) continue;
      // Row i predicts the token the main head predicts at the next row.
      const float cf = coef[static_cast<size_t>(mtp_main_row_[static_cast<size_t>(i)] + 1)];
      loss -= static_cast<double>(cf) * mtp_head_.logp[static_cast<size_t>(i)];
      mcoef[static_cast<size_t>(i)] = mtp_weight * cf;
    }
    std::vector<float>& dx = zeroed(mdx_, m * hidden);
    head_backward(mtp_head_, mtp_x_.data(), m, "output_norm.weight", "output.weight", mtp_targets_.data(), mcoef.data(),
                  nullptr, dx.data());
    block_backward(layer, mtp_segments_, m, dx);
    std::vector<float>& dcat = zeroed(dcat_, 2 * m * hidden);
    linear_backward(w(blk(layer, "nextn.eh_proj.weight")), hidden, 2 * hidden, mtp_cat_.data(), m, dx.data(),
                    dcat.data(), g(blk(layer, "nextn.eh_proj.weight")), *pool);
    std::vector<float>& den = sized(den_, m * hidden);
    std::vector<float>& dhn_rows = sized(dhn_rows_, m * hidden);
    for (int64_t i = 0; i < m; ++i) {
      std::memcpy(den.data() + i * hidden, dcat.data() + i * 2 * hidden, sizeof(float) * hidden);
      std::memcpy(dhn_rows.data() + i * hidden, dcat.data() + i * 2 * hidden + hidden, sizeof(float) * hidden);
    }
    std::vector<float>& demb = zeroed(demb_, m * hidden);
    std::vector<float>& dh = zeroed(dh_, m * hidden);
    rmsnorm_rows_backward(mtp_emb_.data(), w(blk(layer, "nextn.enorm.weight")), mtp_rstd_e_.data(), m, hidden,
                          den.data(), demb.data(), g(blk(layer, "nextn.enorm.weight")), pool.get());
    rmsnorm_rows_backward(mtp_h_.data(), w(blk(layer, "nextn.hnorm.weight")), mtp_rstd_h_.data(), m, hidden,
                          dhn_rows.data(), dh.data(), g(blk(layer, "nextn.hnorm.weight")), pool.get());
    embed_backward("token_embd.weight", mtp_next_.data(), m, demb.data());
    for (int64_t i = 0; i < m; ++i) {
      float* d = dhn + mtp_main_row_[static_cast<size_t>(i)] * hidden;
      const float* s = dh.data() + i * hidden;
      for (int64_t j = 0; j < hidden; ++j) d[j] += s[j];
    }
    return static_cast<float>(loss);
  }

  Rope rope_;
  float softmax_scale_ = 1.0f;
  RopeTable table_;
  std::vector<BlockState> blocks_;
  std::vector<float> x_, sub_, dx_, dxn_;
  // MTP state of the last forward.
  std::vector<Segment> mtp_segments_;
  std::vector<int32_t> mtp_main_row_, mtp_next_, mtp_targets_;
  int64_t mtp_rows_ = 0;
  std::vector<float> mtp_emb_, mtp_h_, mtp_rstd_e_, mtp_rstd_h_, mtp_cat_, mtp_x_;
  // Step-to-step buffers.
  std::vector<float> dhn_, en_, hn_, mcoef_, mdx_, dcat_, den_, dhn_rows_, demb_, dh_;
  HeadState mtp_head_;
};

}  // namespace

std::unique_ptr<NetworkImpl> make_deepseek2_network(const ModelConfig& config) {
  return std::make_unique<Deepseek2Network>(config);
}

}  // namespace whale::train
