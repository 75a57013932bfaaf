// DeepSeek-V2/V3: loading (config checks, weight views, scratch) and the block loop of forward().
#include "models/deepseek2.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "kernels/ops.h"
#include "models/architectures.h"
#include "models/deepseek2_model.h"
#include "models/deepseek2_rope.h"

namespace whale {

// ---- cache ----

Deepseek2Cache::Deepseek2Cache(int64_t capacity, int64_t layers, int64_t row)
    : KvCache(capacity),
      layers_(layers),
      row_(row),
      data_(std::make_unique_for_overwrite<float[]>(static_cast<size_t>(capacity * layers * row))) {}

size_t Deepseek2Cache::bytes() const { return static_cast<size_t>(capacity() * layers_ * row_) * sizeof(float); }

size_t Deepseek2Cache::row_bytes() const { return static_cast<size_t>(layers_ * row_) * sizeof(float); }

// Exported rows are position-major: position p's latent rows of every layer, layer 0 first.
void Deepseek2Cache::read_rows(int64_t first, int64_t count, std::span<std::byte> out) const {
  WHALE_ASSERT(first >= 0 && first + count <= length() && out.size() == static_cast<size_t>(count) * row_bytes());
  const size_t row = static_cast<size_t>(row_) * sizeof(float);
  std::byte* dst = out.data();
  for (int64_t p = first; p < first + count; ++p) {
    for (int64_t l = 0; l < layers_; ++l, dst += row) {
      std::memcpy(dst, data_.get() + static_cast<size_t>((l * capacity() + p) * row_), row);
    }
  }
}

void Deepseek2Cache::store_rows(int64_t first, int64_t count, std::span<const std::byte> in) {
  const size_t row = static_cast<size_t>(row_) * sizeof(float);
  const std::byte* src = in.data();
  for (int64_t p = first; p < first + count; ++p) {
    for (int64_t l = 0; l < layers_; ++l, src += row) {
      std::memcpy(data_.get() + static_cast<size_t>((l * capacity() + p) * row_), src, row);
    }
  }
}

namespace {

// Checks what the config must satisfy beyond parse_model_config's generic checks.
void check_config(const ModelConfig& c, const std::string& path) {
  auto bad = [&](std::string_view what) { fail("{}: deepseek2: {}", path, what); };
  if (c.kv_lora_rank <= 0) bad("attention.kv_lora_rank must be > 0");
  if (c.qk_rope_head_dim <= 0 || c.qk_rope_head_dim % 2 != 0) {
    bad(fmt::format("rope.dimension_count must be even and > 0, got {}", c.qk_rope_head_dim));
  }
  if (c.v_head_dim <= 0) bad("the per-head value length must be > 0");
  const int64_t main_layers = c.block_count - c.nextn_predict_layers;
  if (main_layers < 1) bad(fmt::format("block_count {} leaves no main block after {} MTP blocks", c.block_count,
                                       c.nextn_predict_layers));
  if (c.leading_dense_block_count > 0 && c.feed_forward_length <= 0) {
    bad("feed_forward_length is required for the leading dense blocks");
  }
  if (c.leading_dense_block_count < c.block_count) {
    if (c.expert_count <= 0) {
      bad(fmt::format("expert_count is required: blocks {}.. are MoE blocks", c.leading_dense_block_count));
    }
    const int64_t group_size = c.expert_count / c.expert_group_count;
    if (c.experts_per_token > c.expert_group_used_count * group_size) {
      bad(fmt::format("expert_used_count {} exceeds the {} experts of the {} groups kept (expert_group_used_count)",
                      c.experts_per_token, c.expert_group_used_count * group_size, c.expert_group_used_count));
    }
  }
}

int64_t ffn_width(const ModelConfig& c) {
  return std::max({c.feed_forward_length, c.expert_feed_forward_length,
                   c.expert_feed_forward_length * c.expert_shared_count, int64_t{1}});
}

void size_scratch(Deepseek2Model::State& st, const ModelConfig& c) {
  Deepseek2Scratch& s = st.s;
  const size_t b = static_cast<size_t>(st.max_batch);
  const size_t threads = static_cast<size_t>(st.pool->size());
  const size_t hidden = static_cast<size_t>(c.hidden_size);
  const size_t heads = static_cast<size_t>(c.head_count);
  const size_t qk = static_cast<size_t>(c.qk_nope_head_dim + c.qk_rope_head_dim);
  const size_t rank = static_cast<size_t>(c.kv_lora_rank);
  const size_t row = rank + static_cast<size_t>(c.qk_rope_head_dim);
  const size_t v = static_cast<size_t>(c.v_head_dim);
  const size_t nope = static_cast<size_t>(c.qk_nope_head_dim);
  const size_t experts = static_cast<size_t>(std::max<int64_t>(c.expert_count, 1));
  const size_t k = static_cast<size_t>(std::max<int64_t>(c.experts_per_token, 1));
  s.x.resize(b * hidden);
  s.xn.resize(b * hidden);
  s.sub.resize(b * hidden);
  s.q.resize(b * heads * qk);
  s.qa.resize(b * static_cast<size_t>(std::max<int64_t>(c.q_lora_rank, 1)));
  s.kva.resize(b * row);
  s.q_abs.resize(b * heads * row);
  s.lat.resize(b * heads * rank);
  s.o_cat.resize(b * heads * v);
  s.head_in.resize(threads * b * std::max(nope, rank));
  s.head_out.resize(threads * b * std::max(rank, v));
  s.row_buffers.resize(threads * std::max(rank, nope));
  s.cos.resize(b * static_cast<size_t>(c.qk_rope_head_dim / 2));
  s.sin.resize(b * static_cast<size_t>(c.qk_rope_head_dim / 2));
  s.gate.resize(b * static_cast<size_t>(ffn_width(c)));
  s.up.resize(b * static_cast<size_t>(ffn_width(c)));
  s.router_logits.resize(b * experts);
  s.expert_ids.resize(b * k);
  s.expert_weights.resize(b * k);
  s.expert_tokens.resize(experts * b);
  s.expert_token_weights.resize(experts * b);
  s.expert_counts.resize(experts);
  s.gathered.resize(b * hidden);
  s.expert_out.resize(b * hidden);
  s.hidden.resize(b * hidden);
  s.tokens.resize(b);
  s.mtp_cat.resize(b * 2 * hidden);
}

Deepseek2Block load_block(const Weights& w, const ModelConfig& c, int64_t i, int64_t main_layers) {
  auto name = [&](std::string_view suffix) { return Weights::layer_name(i, suffix); };
  auto optional_matrix = [&](std::string_view suffix) {
    return w.find(name(suffix)) != nullptr ? w.matrix(name(suffix)) : Matrix{};
  };
  Deepseek2Block b;
  b.attn_norm = w.floats(name("attn_norm.weight"));
  if (c.q_lora_rank > 0) {
    b.q_a = w.matrix(name("attn_q_a.weight"));
    b.q_a_norm = w.floats(name("attn_q_a_norm.weight"));
    b.q_b = w.matrix(name("attn_q_b.weight"));
  } else {
    b.q = w.matrix(name("attn_q.weight"));
  }
  b.kv_a = w.matrix(name("attn_kv_a_mqa.weight"));
  b.kv_a_norm = w.floats(name("attn_kv_a_norm.weight"));
  if (c.mla_split_kv_b) {
    for (int64_t h = 0; h < c.head_count; ++h) {
      b.k_b.push_back(w.expert(name("attn_k_b.weight"), h));
      b.v_b.push_back(w.expert(name("attn_v_b.weight"), h));
    }
  } else {
    b.kv_b = w.matrix(name("attn_kv_b.weight"));
  }
  b.o = w.matrix(name("attn_output.weight"));
  b.ffn_norm = w.floats(name("ffn_norm.weight"));
  b.moe = i >= c.leading_dense_block_count;
  if (!b.moe) {
    b.ffn_gate = w.matrix(name("ffn_gate.weight"));
    b.ffn_up = w.matrix(name("ffn_up.weight"));
    b.ffn_down = w.matrix(name("ffn_down.weight"));
  } else {
    b.gate_inp = w.matrix(name("ffn_gate_inp.weight"));
    if (w.find(name("exp_probs_b.bias")) != nullptr) b.score_bias = w.floats(name("exp_probs_b.bias"));
    for (int64_t e = 0; e < c.expert_count; ++e) {
      b.gate_exps.push_back(w.expert(name("ffn_gate_exps.weight"), e));
      b.up_exps.push_back(w.expert(name("ffn_up_exps.weight"), e));
      b.down_exps.push_back(w.expert(name("ffn_down_exps.weight"), e));
    }
    if (c.expert_shared_count > 0) {
      b.gate_shexp = w.matrix(name("ffn_gate_shexp.weight"));
      b.up_shexp = w.matrix(name("ffn_up_shexp.weight"));
      b.down_shexp = w.matrix(name("ffn_down_shexp.weight"));
    }
  }
  if (i >= main_layers) {
    b.eh_proj = w.matrix(name("nextn.eh_proj.weight"));
    b.enorm = w.floats(name("nextn.enorm.weight"));
    b.hnorm = w.floats(name("nextn.hnorm.weight"));
    if (w.find(name("nextn.shared_head_norm.weight")) != nullptr) {
      b.shared_head_norm = w.floats(name("nextn.shared_head_norm.weight"));
    }
    b.shared_head_head = optional_matrix("nextn.shared_head_head.weight");
    b.embed_tokens = optional_matrix("nextn.embed_tokens.weight");
  }
  return b;
}

}  // namespace

std::unique_ptr<Model> load_deepseek2_model(std::shared_ptr<const ModelSource> source, ModelConfig config,
                                            const LoadOptions& options) {
  WHALE_ASSERT(options.pool != nullptr && options.max_batch_tokens > 0);
  auto state = std::make_unique<Deepseek2Model::State>(std::move(source));
  Deepseek2Model::State& st = *state;
  check_config(config, st.weights.path());
  st.pool = options.pool;
  for (int t = 0; t < st.pool->size(); ++t) st.inline_pools.push_back(std::make_unique<ThreadPool>(1));
  st.max_batch = options.max_batch_tokens;
  st.main_layers = config.block_count - config.nextn_predict_layers;
  st.rope = deepseek2_rope(config);
  st.softmax_scale = deepseek2_rope_scaling(config).softmax_scale;
  if (config.expert_count > 0) {
    st.router = RouterConfig::from_model(config);
    st.router_scratch = std::make_unique<RouterScratch>(st.router);
  }
  st.token_embd = st.weights.matrix("token_embd.weight");
  st.output = st.weights.matrix("output.weight");
  st.output_norm = st.weights.floats("output_norm.weight");
  for (int64_t i = 0; i < config.block_count; ++i) st.blocks.push_back(load_block(st.weights, config, i, st.main_layers));
  size_scratch(st, config);
  return std::unique_ptr<Model>(new Deepseek2Model(std::move(config), std::move(state)));
}

Deepseek2Model::Deepseek2Model(ModelConfig config, std::unique_ptr<State> state)
    : Model(std::move(config)), state_(std::move(state)) {}

Deepseek2Model::~Deepseek2Model() = default;

int64_t Deepseek2Model::main_layers() const { return state_->main_layers; }

std::unique_ptr<KvCache> Deepseek2Model::create_cache(int64_t context_length) {
  if (context_length < 1) fail("{}: context size must be at least 1, got {}", state_->weights.path(), context_length);
  Deepseek2Scratch& s = state_->s;
  if (context_length > s.context) {
    s.attention.resize(kernels::attention_scratch_floats(context_length, *state_->pool));
    s.context = context_length;
  }
  return std::make_unique<Deepseek2Cache>(context_length, config_.block_count,
                                          config_.kv_lora_rank + config_.qk_rope_head_dim);
}

size_t Deepseek2Model::kv_bytes_per_token() const {
  return static_cast<size_t>(config_.block_count * (config_.kv_lora_rank + config_.qk_rope_head_dim)) * sizeof(float);
}

std::span<const float> Deepseek2Model::hidden_states() const {
  return {state_->s.hidden.data(), static_cast<size_t>(state_->s.hidden_rows * config_.hidden_size)};
}

void deepseek2_block(Deepseek2Model::State& st, const ModelConfig& c, int64_t layer, std::span<const Segment> segments,
                     int64_t n, MlaMode mode) {
  const Deepseek2Block& b = st.blocks[layer];
  Deepseek2Scratch& s = st.s;
  const int64_t hidden = c.hidden_size;
  for (int64_t t = 0; t < n; ++t) {
    kernels::rmsnorm(s.x.data() + t * hidden, b.attn_norm.data(), hidden, c.rms_norm_eps, s.xn.data() + t * hidden);
  }
  mla_attention(st, c, layer, segments, s.xn.data(), n, mode, s.sub.data());
  kernels::add(s.x.data(), s.sub.data(), n * hidden);
  for (int64_t t = 0; t < n; ++t) {
    kernels::rmsnorm(s.x.data() + t * hidden, b.ffn_norm.data(), hidden, c.rms_norm_eps, s.xn.data() + t * hidden);
  }
  deepseek2_ffn(st, c, b, s.xn.data(), n, s.sub.data());
  kernels::add(s.x.data(), s.sub.data(), n * hidden);
}

void deepseek2_head(Deepseek2Model::State& st, const Matrix& head, const float* hidden, int64_t n, float* logits) {
  kernels::matmul(head, hidden, n, logits, *st.pool);
}

namespace {

// Common checks of forward() and mtp_forward().
Deepseek2Cache& checked_cache(const Deepseek2Model::State& st, const ModelConfig& c, KvCache* cache,
                              std::span<const int32_t> tokens, int64_t start_pos, std::span<float> logits) {
  WHALE_ASSERT(cache != nullptr);
  auto* latent = dynamic_cast<Deepseek2Cache*>(cache);
  WHALE_ASSERT(latent != nullptr);
  const int64_t n = static_cast<int64_t>(tokens.size());
  WHALE_ASSERT(start_pos >= 0 && start_pos <= cache->length());
  WHALE_ASSERT(logits.empty() || logits.size() == static_cast<size_t>(c.vocab_size) ||
               logits.size() == static_cast<size_t>(n * c.vocab_size));
  if (start_pos + n > cache->capacity()) {
    fail("{}: the context is full: {} tokens at position {} do not fit a context of {} tokens", st.weights.path(), n,
         start_pos, cache->capacity());
  }
  WHALE_ASSERT(cache->capacity() <= st.s.context);
  for (int32_t id : tokens) {
    if (id < 0 || id >= c.vocab_size) fail("{}: token id {} is outside the vocabulary [0, {})", st.weights.path(), id, c.vocab_size);
  }
  return *latent;
}

}  // namespace

void Deepseek2Model::forward(std::span<const SequenceBatch> batch) {
  State& st = *state_;
  Deepseek2Scratch& s = st.s;
  const ModelConfig& c = config_;
  const int64_t hidden = c.hidden_size;
  for (const SequenceBatch& seq : batch) checked_cache(st, c, seq.cache, seq.tokens, seq.start_pos, seq.logits);
  s.plan.plan(batch, st.max_batch, c.vocab_size);
  for (size_t pass = 0; pass < s.plan.pass_count(); ++pass) {
    const std::span<const Segment> segments = s.plan.segments(pass);
    const int64_t n = s.plan.rows(pass);
    gather_tokens(batch, segments, s.tokens.data());
    for (int64_t t = 0; t < n; ++t) kernels::get_row(st.token_embd, s.tokens[t], s.x.data() + t * hidden);
    for (int64_t l = 0; l < st.main_layers; ++l) deepseek2_block(st, c, l, segments, n, mla_mode_);
    for (int64_t t = 0; t < n; ++t) {
      kernels::rmsnorm(s.x.data() + t * hidden, st.output_norm.data(), hidden, c.rms_norm_eps,
                       s.hidden.data() + t * hidden);
    }
    s.hidden_rows = n;
    for (const Segment& seg : segments) seg.cache->set_length(seg.pos + seg.len);
    project_logits(s.plan.logits(pass), s.hidden.data(), hidden, c.vocab_size, s.logit_rows, s.logit_scratch,
                   [&](const float* rows, int64_t count, float* out) { deepseek2_head(st, st.output, rows, count, out); });
  }
}

}  // namespace whale
