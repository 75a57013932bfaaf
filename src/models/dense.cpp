// The dense decoder families: llama (Llama 3 rope scaling), qwen2 (q/k/v bias) and qwen3 (per-head q/k
// RMSNorm). One block per layer:
//
//   h   = x + W_o · attention(rope(q), rope(k), v)     q, k, v = W_{q,k,v} · rmsnorm(x) (+ bias)
//   out = h + W_down · (silu(W_gate · rmsnorm(h)) ⊙ W_up · rmsnorm(h))
//
// with grouped-query attention (head_count_kv <= head_count) and tied or untied output embeddings
// (no output.weight: the logits reuse token_embd).

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/ops.h"
#include "kernels/rope.h"
#include "models/architectures.h"
#include "models/scratch.h"
#include "models/step_plan.h"
#include "models/weights.h"

namespace whale {
namespace {

bool has_qkv_bias(const ModelConfig& c) { return c.arch == "qwen2"; }
bool has_qk_norm(const ModelConfig& c) { return c.arch == "qwen3"; }

// Per-layer keys and values in f32, positions contiguous: k[layer] is [capacity, kv_heads * key_length].
class DenseKvCache final : public KvCache {
 public:
  DenseKvCache(const ModelConfig& c, int64_t capacity)
      : KvCache(capacity), layers_(c.block_count), k_width_(c.kv_width()), v_width_(c.v_width()) {
    // Left uninitialized: the pages are committed as positions are written, not for the whole context.
    layer_floats_ = static_cast<size_t>(capacity) * static_cast<size_t>(k_width_ + v_width_);
    data_.reset(new float[layer_floats_ * static_cast<size_t>(layers_)]);
  }
  size_t bytes() const override { return layer_floats_ * static_cast<size_t>(layers_) * sizeof(float); }
  float* keys(int64_t layer) { return key_row(layer, 0); }
  float* values(int64_t layer) { return value_row(layer, 0); }

  size_t row_bytes() const override { return static_cast<size_t>(layers_ * (k_width_ + v_width_)) * sizeof(float); }
  // Exported rows are position-major: for each position, every layer's key row then value row.
  void read_rows(int64_t first, int64_t count, std::span<std::byte> out) const override {
    WHALE_ASSERT(first >= 0 && first + count <= length() && out.size() == static_cast<size_t>(count) * row_bytes());
    auto* dst = reinterpret_cast<float*>(out.data());
    for (int64_t p = first; p < first + count; ++p) {
      for (int64_t l = 0; l < layers_; ++l) {
        dst = std::copy_n(key_row(l, p), k_width_, dst);
        dst = std::copy_n(value_row(l, p), v_width_, dst);
      }
    }
  }

 private:
  float* key_row(int64_t layer, int64_t p) const {
    return data_.get() + static_cast<size_t>(layer) * layer_floats_ + static_cast<size_t>(p * k_width_);
  }
  float* value_row(int64_t layer, int64_t p) const {
    return key_row(layer, capacity()) + static_cast<size_t>(p * v_width_);
  }
  void store_rows(int64_t first, int64_t count, std::span<const std::byte> in) override {
    const auto* src = reinterpret_cast<const float*>(in.data());
    for (int64_t p = first; p < first + count; ++p) {
      for (int64_t l = 0; l < layers_; ++l) {
        std::copy_n(src, k_width_, key_row(l, p));
        src += k_width_;
        std::copy_n(src, v_width_, value_row(l, p));
        src += v_width_;
      }
    }
  }

  int64_t layers_;
  int64_t k_width_;
  int64_t v_width_;
  std::unique_ptr<float[]> data_;
  size_t layer_floats_ = 0;
};

struct DenseLayer {
  std::vector<float> attn_norm;            // [hidden]
  Matrix wq, wk, wv, wo;                   // {H*dk, hidden}, {KV*dk, hidden}, {KV*dv, hidden}, {hidden, H*dv}
  std::vector<float> bq, bk, bv;           // qwen2 (or llama files with biases); empty otherwise
  std::vector<float> q_norm, k_norm;       // qwen3: [dk]
  std::vector<float> ffn_norm;             // [hidden]
  Matrix gate, up, down;                   // {ff, hidden}, {ff, hidden}, {hidden, ff}
};

class DenseModel final : public Model {
 public:
  DenseModel(std::shared_ptr<const ModelSource> source, ModelConfig config, const LoadOptions& options)
      : Model(std::move(config)), weights_(std::move(source)), pool_(*options.pool) {
    WHALE_ASSERT(options.pool != nullptr && options.max_batch_tokens > 0);
    const ModelConfig& c = config_;
    token_embd_ = weights_.matrix("token_embd.weight");
    output_ = weights_.find("output.weight") != nullptr ? weights_.matrix("output.weight") : token_embd_;
    output_norm_ = weights_.floats("output_norm.weight");
    std::vector<float> freq_factors;
    if (weights_.find("rope_freqs.weight") != nullptr) freq_factors = weights_.floats("rope_freqs.weight");
    rope_ = Rope(c.rope, freq_factors);
    layers_.resize(static_cast<size_t>(c.block_count));
    for (int64_t l = 0; l < c.block_count; ++l) {
      DenseLayer& L = layers_[static_cast<size_t>(l)];
      auto name = [&](std::string_view suffix) { return Weights::layer_name(l, suffix); };
      L.attn_norm = weights_.floats(name("attn_norm.weight"));
      L.wq = weights_.matrix(name("attn_q.weight"));
      L.wk = weights_.matrix(name("attn_k.weight"));
      L.wv = weights_.matrix(name("attn_v.weight"));
      L.wo = weights_.matrix(name("attn_output.weight"));
      if (weights_.find(name("attn_q.bias")) != nullptr) {
        L.bq = weights_.floats(name("attn_q.bias"));
        L.bk = weights_.floats(name("attn_k.bias"));
        L.bv = weights_.floats(name("attn_v.bias"));
      }
      if (has_qk_norm(c)) {
        L.q_norm = weights_.floats(name("attn_q_norm.weight"));
        L.k_norm = weights_.floats(name("attn_k_norm.weight"));
      }
      L.ffn_norm = weights_.floats(name("ffn_norm.weight"));
      L.gate = weights_.matrix(name("ffn_gate.weight"));
      L.up = weights_.matrix(name("ffn_up.weight"));
      L.down = weights_.matrix(name("ffn_down.weight"));
    }
    batch_ = options.max_batch_tokens;
    const auto n = static_cast<size_t>(batch_);
    tokens_.resize(n);
    x_.resize(n * static_cast<size_t>(c.hidden_size));
    xn_.resize(n * static_cast<size_t>(c.hidden_size));
    q_.resize(n * static_cast<size_t>(c.q_width()));
    k_.resize(n * static_cast<size_t>(c.kv_width()));
    v_.resize(n * static_cast<size_t>(c.v_width()));
    att_.resize(n * static_cast<size_t>(c.head_count * c.value_length));
    gate_.resize(n * static_cast<size_t>(c.feed_forward_length));
    up_.resize(n * static_cast<size_t>(c.feed_forward_length));
    cos_.resize(static_cast<size_t>(rope_.dims() / 2));
    sin_.resize(static_cast<size_t>(rope_.dims() / 2));
  }

  std::unique_ptr<KvCache> create_cache(int64_t context_length) override {
    if (context_length <= 0) fail("context size must be positive, got {}", context_length);
    const size_t need = kernels::attention_scratch_floats(context_length, pool_);
    attn_scratch_.resize(need);
    return std::make_unique<DenseKvCache>(config_, context_length);
  }

  size_t kv_bytes_per_token() const override {
    return static_cast<size_t>(config_.block_count * (config_.kv_width() + config_.v_width())) * sizeof(float);
  }

  void forward(std::span<const SequenceBatch> batch) override {
    const ModelConfig& c = config_;
    for (const SequenceBatch& seq : batch) check_sequence(seq);
    plan_.plan(batch, batch_, c.vocab_size);
    for (size_t pass = 0; pass < plan_.pass_count(); ++pass) {
      run_pass(batch, plan_.segments(pass), plan_.rows(pass));
      for (const Segment& seg : plan_.segments(pass)) seg.cache->set_length(seg.pos + seg.len);
      const int64_t hidden = c.hidden_size;
      for (const LogitTarget& t : plan_.logits(pass)) {
        for (int64_t r = t.row; r < t.row + t.count; ++r) {
          kernels::rmsnorm(x_.data() + r * hidden, output_norm_.data(), hidden, c.rms_norm_eps, xn_.data() + r * hidden);
        }
      }
      project_logits(plan_.logits(pass), xn_.data(), hidden, c.vocab_size, logit_rows_, logit_scratch_,
                     [&](const float* rows, int64_t n, float* out) { kernels::matmul(output_, rows, n, out, pool_); });
    }
  }

 private:
  void check_sequence(const SequenceBatch& seq) const {
    const ModelConfig& c = config_;
    auto* cache = dynamic_cast<DenseKvCache*>(seq.cache);
    WHALE_ASSERT(cache != nullptr);
    const auto n = static_cast<int64_t>(seq.tokens.size());
    const auto logits_size = static_cast<int64_t>(seq.logits.size());
    WHALE_ASSERT(logits_size == 0 || logits_size == c.vocab_size || logits_size == n * c.vocab_size);
    if (seq.start_pos < 0 || seq.start_pos > cache->length()) {
      fail("forward: start position {} is past the {} cached tokens", seq.start_pos, cache->length());
    }
    if (seq.start_pos + n > cache->capacity()) {
      fail("the input needs {} tokens of context but the context size is {} tokens (raise --ctx)",
           seq.start_pos + n, cache->capacity());
    }
    for (int32_t id : seq.tokens) {
      if (id < 0 || id >= c.vocab_size) fail("token id {} is outside the vocabulary [0, {})", id, c.vocab_size);
    }
    WHALE_ASSERT(attn_scratch_.size() >= kernels::attention_scratch_floats(cache->capacity(), pool_));
  }

  // Runs the pass's rows through every layer, leaving the last hidden states in x_. Projections and FFNs
  // take all rows at once; rope, the cache writes and attention go segment by segment.
  void run_pass(std::span<const SequenceBatch> batch, std::span<const Segment> segments, int64_t len) {
    const ModelConfig& c = config_;
    const int64_t hidden = c.hidden_size;
    const int64_t dk = c.key_length;
    const int64_t qw = c.q_width(), kw = c.kv_width(), vw = c.v_width();
    const int64_t aw = c.head_count * c.value_length;
    const int64_t ff = c.feed_forward_length;
    gather_tokens(batch, segments, tokens_.data());
    for (int64_t t = 0; t < len; ++t) kernels::get_row(token_embd_, tokens_[t], x_.data() + t * hidden);

    AttentionShape shape;
    shape.heads = c.head_count;
    shape.kv_heads = c.head_count_kv;
    shape.key_dim = dk;
    shape.value_dim = c.value_length;
    shape.q_stride = qw;
    shape.k_stride = kw;
    shape.v_stride = vw;
    shape.out_stride = aw;
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dk)));

    for (size_t l = 0; l < layers_.size(); ++l) {
      const DenseLayer& L = layers_[l];
      for (int64_t t = 0; t < len; ++t) {
        kernels::rmsnorm(x_.data() + t * hidden, L.attn_norm.data(), hidden, c.rms_norm_eps, xn_.data() + t * hidden);
      }
      kernels::matmul(L.wq, xn_.data(), len, q_.data(), pool_);
      kernels::matmul(L.wk, xn_.data(), len, k_.data(), pool_);
      kernels::matmul(L.wv, xn_.data(), len, v_.data(), pool_);
      for (const Segment& seg : segments) {
        auto& cache = static_cast<DenseKvCache&>(*seg.cache);
        float* keys = cache.keys(static_cast<int64_t>(l));
        float* values = cache.values(static_cast<int64_t>(l));
        for (int64_t t = seg.row; t < seg.row + seg.len; ++t) {
          const int64_t pos = seg.pos + (t - seg.row);
          float* q = q_.data() + t * qw;
          float* k = k_.data() + t * kw;
          float* v = v_.data() + t * vw;
          if (!L.bq.empty()) {
            kernels::add(q, L.bq.data(), qw);
            kernels::add(k, L.bk.data(), kw);
            kernels::add(v, L.bv.data(), vw);
          }
          if (!L.q_norm.empty()) {
            for (int64_t h = 0; h < c.head_count; ++h) {
              kernels::rmsnorm(q + h * dk, L.q_norm.data(), dk, c.rms_norm_eps, q + h * dk);
            }
            for (int64_t h = 0; h < c.head_count_kv; ++h) {
              kernels::rmsnorm(k + h * dk, L.k_norm.data(), dk, c.rms_norm_eps, k + h * dk);
            }
          }
          rope_.angles(pos, cos_.data(), sin_.data());
          apply_rope(q, c.head_count, dk, rope_.dims(), rope_.type(), cos_.data(), sin_.data());
          apply_rope(k, c.head_count_kv, dk, rope_.dims(), rope_.type(), cos_.data(), sin_.data());
          std::copy(k, k + kw, keys + pos * kw);
          std::copy(v, v + vw, values + pos * vw);
        }
        kernels::attention(shape, q_.data() + seg.row * qw, seg.len, seg.pos, keys, values, scale,
                           att_.data() + seg.row * aw, attn_scratch_.data(), pool_);
      }
      kernels::matmul(L.wo, att_.data(), len, xn_.data(), pool_);
      kernels::add(x_.data(), xn_.data(), len * hidden);

      for (int64_t t = 0; t < len; ++t) {
        kernels::rmsnorm(x_.data() + t * hidden, L.ffn_norm.data(), hidden, c.rms_norm_eps, xn_.data() + t * hidden);
      }
      kernels::matmul(L.gate, xn_.data(), len, gate_.data(), pool_);
      kernels::matmul(L.up, xn_.data(), len, up_.data(), pool_);
      kernels::swiglu(gate_.data(), up_.data(), len * ff, gate_.data());
      kernels::matmul(L.down, gate_.data(), len, xn_.data(), pool_);
      kernels::add(x_.data(), xn_.data(), len * hidden);
    }
  }

  Weights weights_;
  ThreadPool& pool_;
  Matrix token_embd_;                 // {vocab, hidden}
  Matrix output_;                     // {vocab, hidden} (token_embd_ when tied)
  std::vector<float> output_norm_;    // [hidden]
  Rope rope_;
  std::vector<DenseLayer> layers_;

  // Scratch for one pass of up to batch_ rows (tokens), rows per token.
  int64_t batch_ = 0;
  StepPlan plan_;
  std::vector<int32_t> tokens_;  // [batch]
  std::vector<float> logit_rows_, logit_scratch_;  // project_logits' gather buffers
  Scratch x_;              // [batch, hidden] residual stream
  Scratch xn_;             // [batch, hidden] normed input / projection output
  Scratch q_;              // [batch, H*dk]
  Scratch k_;              // [batch, KV*dk]
  Scratch v_;              // [batch, KV*dv]
  Scratch att_;            // [batch, H*dv]
  Scratch gate_;           // [batch, ff]
  Scratch up_;             // [batch, ff]
  std::vector<float> cos_, sin_;  // [rope dims / 2]
  Scratch attn_scratch_;  // attention scores: [threads, context]
};

}  // namespace

std::vector<TensorSpec> dense_tensor_specs(const ModelConfig& c) {
  const int64_t hidden = c.hidden_size;
  const int64_t dk = c.key_length;
  std::vector<TensorSpec> specs;
  specs.push_back({"token_embd.weight", {c.vocab_size, hidden}, TensorKind::Embedding});
  specs.push_back({"output_norm.weight", {hidden}, TensorKind::Norm});
  specs.push_back({"output.weight", {c.vocab_size, hidden}, TensorKind::Matrix, false});
  if (c.arch == "llama") specs.push_back({"rope_freqs.weight", {c.rope.dimension_count / 2}, TensorKind::Other, false});
  for (int64_t l = 0; l < c.block_count; ++l) {
    auto name = [&](std::string_view suffix) { return Weights::layer_name(l, suffix); };
    specs.push_back({name("attn_norm.weight"), {hidden}, TensorKind::Norm});
    specs.push_back({name("attn_q.weight"), {c.q_width(), hidden}});
    specs.push_back({name("attn_k.weight"), {c.kv_width(), hidden}});
    specs.push_back({name("attn_v.weight"), {c.v_width(), hidden}});
    specs.push_back({name("attn_output.weight"), {hidden, c.head_count * c.value_length}});
    if (c.arch != "qwen3") {
      // Required for qwen2; some llama-family files carry them too.
      const bool required = has_qkv_bias(c);
      specs.push_back({name("attn_q.bias"), {c.q_width()}, TensorKind::Bias, required});
      specs.push_back({name("attn_k.bias"), {c.kv_width()}, TensorKind::Bias, required});
      specs.push_back({name("attn_v.bias"), {c.v_width()}, TensorKind::Bias, required});
    } else {
      specs.push_back({name("attn_q_norm.weight"), {dk}, TensorKind::Norm});
      specs.push_back({name("attn_k_norm.weight"), {dk}, TensorKind::Norm});
    }
    specs.push_back({name("ffn_norm.weight"), {hidden}, TensorKind::Norm});
    specs.push_back({name("ffn_gate.weight"), {c.feed_forward_length, hidden}});
    specs.push_back({name("ffn_up.weight"), {c.feed_forward_length, hidden}});
    specs.push_back({name("ffn_down.weight"), {hidden, c.feed_forward_length}});
  }
  return specs;
}

std::unique_ptr<Model> load_dense_model(std::shared_ptr<const ModelSource> source, ModelConfig config,
                                        const LoadOptions& options) {
  return std::make_unique<DenseModel>(std::move(source), std::move(config), options);
}

}  // namespace whale
