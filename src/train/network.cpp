// Network: the parameter table, deterministic initialization, loading from GGUF, the forward / backward entry
// points and gradient utilities (clipping, expert-bias balancing). The architectures live in
// train/dense_net.cpp and train/deepseek_net.cpp.
#include "train/network.h"

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "formats/model_source.h"
#include "kernels/ref/quant.h"
#include "models/model.h"
#include "train/network_impl.h"

namespace whale::train {

// ---- NetworkImpl shared pieces ----

Parameter& NetworkImpl::add(const std::string& name, const Shape& shape, bool decay, bool trainable) {
  WHALE_ASSERT(!has(name));
  Parameter p;
  p.name = name;
  p.shape = shape;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  p.value.assign(static_cast<size_t>(n), 0.0f);
  p.grad.assign(static_cast<size_t>(n), 0.0f);
  p.decay = decay;
  p.trainable = trainable;
  index.emplace(name, params.size());
  params.push_back(std::move(p));
  return params.back();
}

Parameter& NetworkImpl::param(std::string_view name) {
  auto it = index.find(name);
  WHALE_ASSERT(it != index.end());
  return params[it->second];
}

void NetworkImpl::pack(const std::vector<std::vector<int32_t>>& batch) {
  if (batch.empty()) fail("forward: the batch is empty");
  tokens.clear();
  targets.clear();
  segments.clear();
  for (size_t s = 0; s < batch.size(); ++s) {
    const auto& seq = batch[s];
    if (seq.size() < 2) fail("forward: sequence {} has {} tokens; at least 2 are needed", s, seq.size());
    if (config.context_length > 0 && static_cast<int64_t>(seq.size()) > config.context_length) {
      fail("forward: sequence {} has {} tokens, more than the context length {}", s, seq.size(), config.context_length);
    }
    segments.push_back({static_cast<int64_t>(tokens.size()), static_cast<int64_t>(seq.size())});
    for (size_t t = 0; t < seq.size(); ++t) {
      const int32_t id = seq[t];
      if (id < 0 || id >= config.vocab_size) {
        fail("forward: sequence {}: token id {} is outside the vocabulary [0, {})", s, id, config.vocab_size);
      }
      tokens.push_back(id);
      targets.push_back(t + 1 < seq.size() ? seq[t + 1] : -1);
    }
  }
  rows = static_cast<int64_t>(tokens.size());
}

void NetworkImpl::embed(const std::string& table, const int32_t* ids, int64_t n, float* x) {
  const int64_t hidden = config.hidden_size;
  const float* e = w(table);
  for (int64_t t = 0; t < n; ++t) {
    std::copy(e + ids[t] * hidden, e + (ids[t] + 1) * hidden, x + t * hidden);
  }
}

void NetworkImpl::embed_backward(const std::string& table, const int32_t* ids, int64_t n, const float* dx) {
  const int64_t hidden = config.hidden_size;
  float* ge = g(table);
  for (int64_t t = 0; t < n; ++t) {
    float* row = ge + ids[t] * hidden;
    const float* d = dx + t * hidden;
    for (int64_t i = 0; i < hidden; ++i) row[i] += d[i];
  }
}

void NetworkImpl::head_forward(const float* x, int64_t n, const std::string& norm, const std::string& head_weight,
                               const int32_t* target_ids, HeadState& st) {
  const int64_t hidden = config.hidden_size;
  const int64_t vocab = config.vocab_size;
  st.xn.resize(static_cast<size_t>(n * hidden));
  st.rstd.resize(static_cast<size_t>(n));
  st.probs.resize(static_cast<size_t>(n * vocab));
  st.logp.resize(static_cast<size_t>(n));
  rmsnorm_rows(x, w(norm), n, hidden, config.rms_norm_eps, st.xn.data(), st.rstd.data(), pool.get());
  linear(w(head_weight), vocab, hidden, st.xn.data(), n, st.probs.data(), *pool);
  if (keep_logits) {
    st.logits = st.probs;
  } else {
    st.logits.clear();
  }
  log_softmax_rows(st.probs.data(), n, vocab, target_ids, st.logp.data(), *pool);
}

void NetworkImpl::head_backward(HeadState& st, const float* x, int64_t n, const std::string& norm,
                                const std::string& head_weight, const int32_t* target_ids, const float* coef,
                                const float* extra_dxn, float* dx) {
  const int64_t hidden = config.hidden_size;
  const int64_t vocab = config.vocab_size;
  // d(-c log p_y)/d logits = c (p - onehot(y)); the probabilities are overwritten by it.
  float* dlogits = st.probs.data();
  for (int64_t r = 0; r < n; ++r) {
    float* row = dlogits + r * vocab;
    const float c = target_ids[r] >= 0 ? coef[r] : 0.0f;
    if (c == 0.0f) {
      std::fill(row, row + vocab, 0.0f);
      continue;
    }
    for (int64_t i = 0; i < vocab; ++i) row[i] *= c;
    row[target_ids[r]] -= c;
  }
  std::vector<float>& dxn = zeroed(st.dxn, n * hidden);
  if (extra_dxn != nullptr) std::copy(extra_dxn, extra_dxn + n * hidden, dxn.begin());
  linear_backward(w(head_weight), vocab, hidden, st.xn.data(), n, dlogits, dxn.data(), g(head_weight), *pool);
  rmsnorm_rows_backward(x, w(norm), st.rstd.data(), n, hidden, dxn.data(), dx, g(norm), pool.get());
}

// ---- initialization ----

namespace {

struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
};

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Values depend only on (seed, name): normal / sqrt(fan_in) for matrices, with the projections back into the
// residual stream scaled by 1 / sqrt(2 * blocks) (GPT-2's residual scaling); norms 1; biases 0.
void initialize(Parameter& p, const ModelConfig& c, uint64_t seed) {
  const std::string& name = p.name;
  if (ends_with(name, "norm.weight")) {
    std::fill(p.value.begin(), p.value.end(), 1.0f);
    return;
  }
  if (ends_with(name, ".bias")) {
    std::fill(p.value.begin(), p.value.end(), 0.0f);
    return;
  }
  double scale = 1.0 / std::sqrt(static_cast<double>(p.shape.back()));
  const bool residual_out = name.find("attn_output") != std::string::npos || name.find("ffn_down") != std::string::npos;
  if (residual_out) scale /= std::sqrt(2.0 * static_cast<double>(std::max<int64_t>(c.block_count, 1)));
  SplitMix64 rng{seed * 0x9e3779b97f4a7c15ull ^ fnv1a(name)};
  for (size_t i = 0; i < p.value.size(); i += 2) {
    const double r = std::sqrt(-2.0 * std::log(rng.uniform()));
    const double a = 2.0 * std::numbers::pi * rng.uniform();
    p.value[i] = static_cast<float>(scale * r * std::cos(a));
    if (i + 1 < p.value.size()) p.value[i + 1] = static_cast<float>(scale * r * std::sin(a));
  }
}

std::unique_ptr<NetworkImpl> make_network(const ModelConfig& config, bool tied) {
  if (config.arch == "qwen2") return make_dense_network(config, tied);
  if (config.arch == "deepseek2") return make_deepseek2_network(config);
  fail("train: architecture '{}' cannot be trained (supported: qwen2, deepseek2)", config.arch);
}

}  // namespace

// ---- Network ----

Network::Network(std::unique_ptr<NetworkImpl> impl) : impl_(std::move(impl)) {}
Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;
Network::~Network() = default;

Network Network::create(const ModelConfig& config, uint64_t seed) { return create(config, seed, true); }

Network Network::create(const ModelConfig& config, uint64_t seed, bool tie_embeddings) {
  Network net(make_network(config, tie_embeddings));
  for (Parameter& p : net.impl_->params) initialize(p, net.impl_->config, seed);
  return net;
}

Network Network::load(const std::string& gguf_path) {
  ModelSource source = ModelSource::open(gguf_path);
  const ModelConfig config = parse_model_config(source.metadata());
  validate_tensors(source, tensor_specs(config));
  const bool tied = source.find_tensor("output.weight") == nullptr;
  Network net(make_network(config, tied));
  for (Parameter& p : net.impl_->params) {
    const TensorView* t = source.find_tensor(p.name);
    if (t == nullptr) fail("{}: tensor {}: missing", gguf_path, p.name);
    if (t->shape != p.shape) {
      fail("{}: tensor {}: expected shape {}, got {}", gguf_path, p.name, shape_string(p.shape),
           shape_string(t->shape));
    }
    if (t->dtype != DType::F32 && t->dtype != DType::F16 && t->dtype != DType::BF16 && t->dtype != DType::Q8_0) {
      fail("{}: tensor {}: expected type f32, f16, bf16 or q8_0, got {}", gguf_path, p.name, dtype_name(t->dtype));
    }
    const int64_t cols = t->row_length();
    const size_t row_bytes = dtype_bytes(t->dtype, static_cast<uint64_t>(cols));
    for (int64_t r = 0; r < t->rows(); ++r) {
      ref::dequantize_row(t->dtype, t->data + static_cast<size_t>(r) * row_bytes, p.value.data() + r * cols, cols);
    }
  }
  return net;
}

const ModelConfig& Network::config() const { return impl_->config; }

int64_t Network::parameter_count() const {
  int64_t n = 0;
  for (const Parameter& p : impl_->params) n += static_cast<int64_t>(p.value.size());
  return n;
}

void Network::set_threads(int threads) {
  if (threads < 1) fail("threads must be at least 1, got {}", threads);
  if (impl_->pool->size() != threads) impl_->pool = std::make_unique<ThreadPool>(threads);
}

std::vector<std::vector<float>> Network::forward(const std::vector<std::vector<int32_t>>& batch) {
  impl_->keep_logits = false;
  impl_->pack(batch);
  impl_->forward_packed();
  std::vector<std::vector<float>> out;
  for (const Segment& s : impl_->segments) {
    out.emplace_back(impl_->head.logp.begin() + s.offset, impl_->head.logp.begin() + s.offset + s.length - 1);
  }
  return out;
}

float Network::backward(const std::vector<std::vector<float>>& coef, float mtp_weight) {
  NetworkImpl& n = *impl_;
  if (n.rows == 0) fail("backward: no forward to differentiate");
  if (coef.size() != n.segments.size()) {
    fail("backward: {} coefficient rows for a batch of {} sequences", coef.size(), n.segments.size());
  }
  std::vector<float> rows(static_cast<size_t>(n.rows), 0.0f);
  for (size_t s = 0; s < coef.size(); ++s) {
    const Segment& seg = n.segments[s];
    if (static_cast<int64_t>(coef[s].size()) != seg.length - 1) {
      fail("backward: sequence {}: expected {} coefficients, got {}", s, seg.length - 1, coef[s].size());
    }
    std::copy(coef[s].begin(), coef[s].end(), rows.begin() + seg.offset);
  }
  return n.backward_packed(rows, mtp_weight);
}

void Network::zero_grad() {
  for (Parameter& p : impl_->params) std::fill(p.grad.begin(), p.grad.end(), 0.0f);
}

float Network::clip_grad_norm(float max_norm) {
  double ss = 0.0;
  for (const Parameter& p : impl_->params) {
    if (!p.trainable) continue;
    for (float v : p.grad) ss += static_cast<double>(v) * v;
  }
  const double norm = std::sqrt(ss);
  if (max_norm > 0.0f && norm > max_norm) {
    const auto scale = static_cast<float>(max_norm / (norm + 1e-6));
    for (Parameter& p : impl_->params) {
      for (float& v : p.grad) v *= scale;
    }
  }
  return static_cast<float>(norm);
}

void Network::update_expert_bias(float rate) {
  for (const auto& [name, load] : impl_->expert_loads()) {
    Parameter& bias = impl_->param(name);
    int64_t total = 0;
    for (int64_t v : load) total += v;
    const double mean = static_cast<double>(total) / static_cast<double>(load.size());
    for (size_t e = 0; e < load.size(); ++e) {
      const double diff = mean - static_cast<double>(load[e]);
      bias.value[e] += diff > 0 ? rate : diff < 0 ? -rate : 0.0f;
    }
  }
}

std::vector<float> Network::logits(const std::vector<int32_t>& tokens) {
  impl_->keep_logits = true;
  impl_->pack({tokens});
  impl_->forward_packed();
  impl_->keep_logits = false;
  return impl_->head.logits;
}

std::vector<float> Network::mtp_logits(const std::vector<int32_t>& tokens) {
  if (config().nextn_predict_layers == 0) fail("mtp_logits: the model has no MTP block");
  impl_->keep_logits = true;
  impl_->pack({tokens});
  impl_->forward_packed();
  impl_->keep_logits = false;
  return impl_->mtp_logits();
}

std::vector<Parameter>& Network::parameters() { return impl_->params; }
const std::vector<Parameter>& Network::parameters() const { return impl_->params; }

Parameter* Network::find(const std::string& name) {
  auto it = impl_->index.find(name);
  return it == impl_->index.end() ? nullptr : &impl_->params[it->second];
}

}  // namespace whale::train
