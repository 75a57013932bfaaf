// Parsing and writing ModelConfig from/to llama.cpp metadata keys (see config.h).
#include "models/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace whale {
namespace {

// Bounds for sanity: far above any real model, far below sizes that would make allocations absurd.
constexpr int64_t kMaxDim = int64_t{1} << 20;
constexpr int64_t kMaxVocab = int64_t{1} << 24;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxExperts = 65536;
constexpr int64_t kMaxContext = int64_t{1} << 26;

class Reader {
 public:
  Reader(const gguf::Metadata& metadata, std::string arch) : m_(metadata), arch_(std::move(arch)) {}

  std::string key(std::string_view suffix) const { return fmt::format("{}.{}", arch_, suffix); }

  int64_t required(std::string_view suffix, int64_t lo, int64_t hi) const {
    std::string k = key(suffix);
    return check(k, m_.get_int(k), lo, hi);
  }
  int64_t optional(std::string_view suffix, int64_t fallback, int64_t lo, int64_t hi) const {
    std::string k = key(suffix);
    std::optional<int64_t> v = m_.find_int(k);
    return v ? check(k, *v, lo, hi) : fallback;
  }
  double optional_float(std::string_view suffix, double fallback) const {
    std::string k = key(suffix);
    std::optional<double> v = m_.find_float(k);
    if (!v) return fallback;
    if (!std::isfinite(*v)) fail("{}: key {}: expected a finite number, got {}", m_.source(), k, *v);
    return *v;
  }
  bool has(std::string_view suffix) const { return m_.has(key(suffix)); }

  int64_t check(const std::string& k, int64_t v, int64_t lo, int64_t hi) const {
    if (v < lo || v > hi) fail("{}: key {}: expected a value in [{}, {}], got {}", m_.source(), k, lo, hi, v);
    return v;
  }
  [[noreturn]] void bad(std::string_view what) const { fail("{}: {}", m_.source(), what); }

  const gguf::Metadata& metadata() const { return m_; }

 private:
  const gguf::Metadata& m_;
  std::string arch_;
};

RopeScaling parse_scaling(const Reader& r, const std::string& name) {
  if (name == "none" || name.empty()) return RopeScaling::None;
  if (name == "linear") return RopeScaling::Linear;
  if (name == "yarn") return RopeScaling::Yarn;
  if (name == "llama3") return RopeScaling::Llama3;
  r.bad(fmt::format("key {}: expected one of none, linear, yarn, llama3, got \"{}\"",
                    r.key("rope.scaling.type"), name));
}

std::string_view scaling_name(RopeScaling s) {
  switch (s) {
    case RopeScaling::None: return "none";
    case RopeScaling::Linear: return "linear";
    case RopeScaling::Yarn: return "yarn";
    case RopeScaling::Llama3: return "llama3";
  }
  return "none";
}

// llama.cpp fixes the rotary layout per architecture rather than storing it.
RopeType rope_type_for(const std::string& arch) {
  if (arch == "qwen2" || arch == "qwen3" || arch == "qwen2moe" || arch == "qwen3moe") return RopeType::Neox;
  return RopeType::Normal;
}

void parse_rope(const Reader& r, ModelConfig& c) {
  RopeConfig& rope = c.rope;
  rope.type = rope_type_for(c.arch);
  rope.theta = r.optional_float("rope.freq_base", 10000.0);
  if (!(rope.theta > 1.0)) {
    r.bad(fmt::format("key {}: expected a base > 1, got {}", r.key("rope.freq_base"), rope.theta));
  }
  rope.dimension_count = r.optional("rope.dimension_count", c.key_length, 2, c.key_length);
  if (rope.dimension_count % 2 != 0) {
    r.bad(fmt::format("key {}: expected an even number, got {}", r.key("rope.dimension_count"),
                      rope.dimension_count));
  }
  std::optional<std::string> type = r.metadata().find_string(r.key("rope.scaling.type"));
  rope.scaling = type ? parse_scaling(r, *type) : RopeScaling::None;
  rope.factor = r.optional_float("rope.scaling.factor", 1.0);
  if (!r.has("rope.scaling.factor") && r.has("rope.scale_linear")) {
    rope.factor = r.optional_float("rope.scale_linear", 1.0);
    if (!type && rope.factor != 1.0) rope.scaling = RopeScaling::Linear;
  }
  if (rope.scaling != RopeScaling::None && !(rope.factor > 0.0)) {
    r.bad(fmt::format("key {}: expected a factor > 0, got {}", r.key("rope.scaling.factor"), rope.factor));
  }
  rope.original_context_length =
      r.optional("rope.scaling.original_context_length", c.context_length, 0, kMaxContext);
  rope.yarn_beta_fast = r.optional_float("rope.scaling.yarn_beta_fast", 32.0);
  rope.yarn_beta_slow = r.optional_float("rope.scaling.yarn_beta_slow", 1.0);
  rope.yarn_log_multiplier = r.optional_float("rope.scaling.yarn_log_multiplier", 0.0);
  rope.low_freq_factor = r.optional_float("rope.scaling.low_freq_factor", 1.0);
  rope.high_freq_factor = r.optional_float("rope.scaling.high_freq_factor", 4.0);
  if (rope.scaling == RopeScaling::Yarn || rope.scaling == RopeScaling::Llama3) {
    if (rope.original_context_length <= 0) {
      r.bad(fmt::format("key {}: required for {} rope scaling", r.key("rope.scaling.original_context_length"),
                        scaling_name(rope.scaling)));
    }
  }
  if (rope.scaling == RopeScaling::Llama3 && !(rope.high_freq_factor > rope.low_freq_factor)) {
    r.bad(fmt::format("keys {} / {}: expected high_freq_factor > low_freq_factor, got {} and {}",
                      r.key("rope.scaling.high_freq_factor"), r.key("rope.scaling.low_freq_factor"),
                      rope.high_freq_factor, rope.low_freq_factor));
  }
}

void parse_deepseek2(const Reader& r, ModelConfig& c) {
  c.q_lora_rank = r.optional("attention.q_lora_rank", 0, 0, kMaxDim);
  c.kv_lora_rank = r.required("attention.kv_lora_rank", 1, kMaxDim);
  c.qk_rope_head_dim = c.rope.dimension_count;
  if (r.has("attention.key_length_mla")) {
    c.mla_split_kv_b = true;
    const int64_t k_mla = r.required("attention.key_length_mla", 1, kMaxDim);
    c.v_head_dim = r.required("attention.value_length_mla", 1, kMaxDim);
    c.qk_nope_head_dim = k_mla - c.qk_rope_head_dim;
  } else {
    c.qk_nope_head_dim = c.key_length - c.qk_rope_head_dim;
    c.v_head_dim = c.value_length;
  }
  if (c.qk_nope_head_dim <= 0) {
    r.bad(fmt::format("key {}: expected the per-head key length to exceed rope.dimension_count {}",
                      r.key(c.mla_split_kv_b ? "attention.key_length_mla" : "attention.key_length"),
                      c.qk_rope_head_dim));
  }
  c.expert_count = r.optional("expert_count", 0, 0, kMaxExperts);
  c.leading_dense_block_count = r.optional("leading_dense_block_count", 0, 0, c.block_count);
  if (c.expert_count > 0) {
    c.experts_per_token = r.required("expert_used_count", 1, c.expert_count);
    c.expert_shared_count = r.optional("expert_shared_count", 0, 0, kMaxExperts);
    c.expert_feed_forward_length = r.required("expert_feed_forward_length", 1, kMaxDim);
    c.expert_group_count = r.optional("expert_group_count", 1, 1, c.expert_count);
    c.expert_group_used_count = r.optional("expert_group_used_count", c.expert_group_count, 1,
                                           c.expert_group_count);
    if (c.expert_count % c.expert_group_count != 0) {
      r.bad(fmt::format("key {}: expert_count {} is not a multiple of it ({})", r.key("expert_group_count"),
                        c.expert_count, c.expert_group_count));
    }
    // llama.cpp's default for files that predate the key: softmax.
    const int64_t gating = r.optional("expert_gating_func", 1, 1, 2);
    c.expert_gating_func = static_cast<ExpertGating>(gating);
    std::optional<bool> norm = r.metadata().find_bool(r.key("expert_weights_norm"));
    c.expert_weights_norm = norm.value_or(false);
    c.expert_weights_scale = r.optional_float("expert_weights_scale", 1.0);
  }
  c.nextn_predict_layers = r.optional("nextn_predict_layers", 0, 0, c.block_count - 1);
}

}  // namespace

ModelConfig parse_model_config(const gguf::Metadata& metadata) {
  ModelConfig c;
  c.arch = metadata.get_string("general.architecture");
  if (c.arch.empty()) fail("{}: key general.architecture: expected a name, got an empty string", metadata.source());
  c.name = metadata.find_string("general.name").value_or("");
  Reader r(metadata, c.arch);

  c.hidden_size = r.required("embedding_length", 1, kMaxDim);
  c.block_count = r.required("block_count", 1, kMaxLayers);
  c.head_count = r.required("attention.head_count", 1, kMaxDim);
  c.head_count_kv = r.optional("attention.head_count_kv", c.head_count, 1, c.head_count);
  if (c.head_count % c.head_count_kv != 0) {
    r.bad(fmt::format("key {}: expected a divisor of head_count {}, got {}", r.key("attention.head_count_kv"),
                      c.head_count, c.head_count_kv));
  }
  if (!r.has("attention.key_length") && c.hidden_size % c.head_count != 0) {
    r.bad(fmt::format("key {}: embedding_length {} is not a multiple of head_count {} (and no key_length)",
                      r.key("attention.head_count"), c.hidden_size, c.head_count));
  }
  c.key_length = r.optional("attention.key_length", c.hidden_size / c.head_count, 1, kMaxDim);
  c.value_length = r.optional("attention.value_length", c.key_length, 1, kMaxDim);
  c.feed_forward_length = r.optional("feed_forward_length", 0, 0, kMaxDim);
  c.context_length = r.optional("context_length", 4096, 1, kMaxContext);
  const double eps = r.optional_float("attention.layer_norm_rms_epsilon", 1e-6);
  if (!(eps > 0.0 && eps < 1.0)) {
    r.bad(fmt::format("key {}: expected a value in (0, 1), got {}", r.key("attention.layer_norm_rms_epsilon"), eps));
  }
  c.rms_norm_eps = static_cast<float>(eps);

  if (std::optional<int64_t> v = metadata.find_int(r.key("vocab_size"))) {
    c.vocab_size = r.check(r.key("vocab_size"), *v, 1, kMaxVocab);
  } else if (const gguf::Value* tokens = metadata.find("tokenizer.ggml.tokens")) {
    c.vocab_size = static_cast<int64_t>(tokens->as_array("key tokenizer.ggml.tokens").items.size());
  }
  if (c.vocab_size <= 0 || c.vocab_size > kMaxVocab) {
    r.bad(fmt::format("keys {} / tokenizer.ggml.tokens: expected a vocabulary size in [1, {}], got {}",
                      r.key("vocab_size"), kMaxVocab, c.vocab_size));
  }

  parse_rope(r, c);
  if (c.is_deepseek2()) {
    parse_deepseek2(r, c);
  } else if (c.feed_forward_length <= 0) {
    r.bad(fmt::format("key {}: required for architecture {}", r.key("feed_forward_length"), c.arch));
  }
  return c;
}

void write_model_config(const ModelConfig& c, gguf::Metadata& m) {
  auto key = [&](std::string_view suffix) { return fmt::format("{}.{}", c.arch, suffix); };
  auto u32 = [&](std::string_view suffix, int64_t v) { m.set_uint32(key(suffix), static_cast<uint32_t>(v)); };
  m.set_string("general.architecture", c.arch);
  if (!c.name.empty()) m.set_string("general.name", c.name);
  u32("vocab_size", c.vocab_size);
  u32("context_length", c.context_length);
  u32("embedding_length", c.hidden_size);
  u32("block_count", c.block_count);
  u32("feed_forward_length", c.feed_forward_length);
  u32("attention.head_count", c.head_count);
  u32("attention.head_count_kv", c.head_count_kv);
  m.set_float32(key("attention.layer_norm_rms_epsilon"), c.rms_norm_eps);
  m.set_float32(key("rope.freq_base"), static_cast<float>(c.rope.theta));
  u32("rope.dimension_count", c.rope.dimension_count);
  if (c.is_deepseek2()) {
    // The layout llama.cpp's converters write for MLA models with a split kv_b (see config.h).
    if (c.mla_split_kv_b) {
      u32("attention.key_length", c.kv_lora_rank + c.qk_rope_head_dim);
      u32("attention.value_length", c.kv_lora_rank);
      u32("attention.key_length_mla", c.qk_nope_head_dim + c.qk_rope_head_dim);
      u32("attention.value_length_mla", c.v_head_dim);
    } else {
      u32("attention.key_length", c.qk_nope_head_dim + c.qk_rope_head_dim);
      u32("attention.value_length", c.v_head_dim);
    }
    u32("attention.q_lora_rank", c.q_lora_rank);  // 0 means none; llama.cpp requires the key
    u32("attention.kv_lora_rank", c.kv_lora_rank);
    u32("leading_dense_block_count", c.leading_dense_block_count);
    if (c.expert_count > 0) {
      u32("expert_count", c.expert_count);
      u32("expert_used_count", c.experts_per_token);
      u32("expert_shared_count", c.expert_shared_count);
      u32("expert_feed_forward_length", c.expert_feed_forward_length);
      u32("expert_group_count", c.expert_group_count);
      u32("expert_group_used_count", c.expert_group_used_count);
      u32("expert_gating_func", static_cast<int64_t>(c.expert_gating_func));
      m.set_bool(key("expert_weights_norm"), c.expert_weights_norm);
      m.set_float32(key("expert_weights_scale"), static_cast<float>(c.expert_weights_scale));
    }
    if (c.nextn_predict_layers > 0) u32("nextn_predict_layers", c.nextn_predict_layers);
  } else {
    u32("attention.key_length", c.key_length);
    u32("attention.value_length", c.value_length);
  }
  const RopeConfig& rope = c.rope;
  if (rope.scaling != RopeScaling::None) {
    m.set_string(key("rope.scaling.type"), std::string(scaling_name(rope.scaling)));
    m.set_float32(key("rope.scaling.factor"), static_cast<float>(rope.factor));
    u32("rope.scaling.original_context_length", rope.original_context_length);
  }
  if (rope.scaling == RopeScaling::Yarn) {
    m.set_float32(key("rope.scaling.yarn_log_multiplier"), static_cast<float>(rope.yarn_log_multiplier));
    m.set_float32(key("rope.scaling.yarn_beta_fast"), static_cast<float>(rope.yarn_beta_fast));
    m.set_float32(key("rope.scaling.yarn_beta_slow"), static_cast<float>(rope.yarn_beta_slow));
  }
  if (rope.scaling == RopeScaling::Llama3) {
    m.set_float32(key("rope.scaling.low_freq_factor"), static_cast<float>(rope.low_freq_factor));
    m.set_float32(key("rope.scaling.high_freq_factor"), static_cast<float>(rope.high_freq_factor));
  }
}

}  // namespace whale
