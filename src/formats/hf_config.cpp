// config.json parsing and translation to llama.cpp GGUF keys (see hf_config.h). Key names and value types
// are the ones llama.cpp's loader reads (it checks types: counts are uint32, scales float32).
#include "formats/hf_config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace whale::hf {
namespace {

using nlohmann::json;

// Any config value above this is corrupt, not a model: it is the largest value models/config.cpp accepts for
// any key (the context length). The shapes the loader computes from these values (products of two of them, or
// of sums of two) then stay far inside int64.
constexpr int64_t kMaxDim = int64_t{1} << 26;
// models/config.cpp's limit for every per-token width. Checked here already for head_dim, because the loader
// sizes the llama3 rope factors by it before it reaches the weights that would bound it.
constexpr int64_t kMaxHeadDim = int64_t{1} << 20;

class Reader {
 public:
  Reader(const std::string& path, const json& root) : path_(path), root_(root) {}

  const json* find(const char* key) const {
    auto it = root_.find(key);
    return it == root_.end() || it->is_null() ? nullptr : &*it;
  }
  int64_t integer(const char* key, std::optional<int64_t> fallback = std::nullopt, int64_t min = 1) const {
    const json* v = find(key);
    if (v == nullptr) {
      if (fallback) return *fallback;
      fail("{}: key {}: missing (expected an integer)", path_, key);
    }
    if (!v->is_number_integer()) fail("{}: key {}: expected an integer, got {}", path_, key, v->dump());
    const int64_t x = v->get<int64_t>();
    if (x < min || x > kMaxDim) fail("{}: key {}: expected an integer in [{}, 2^26], got {}", path_, key, min, x);
    return x;
  }
  double number(const char* key, double fallback, bool* present = nullptr) const {
    const json* v = find(key);
    if (present != nullptr) *present = v != nullptr;
    if (v == nullptr) return fallback;
    if (!v->is_number()) fail("{}: key {}: expected a number, got {}", path_, key, v->dump());
    return v->get<double>();
  }
  bool boolean(const char* key, bool fallback) const {
    const json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail("{}: key {}: expected true or false, got {}", path_, key, v->dump());
    return v->get<bool>();
  }
  std::string string(const char* key, std::string fallback = {}) const {
    const json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_string()) fail("{}: key {}: expected a string, got {}", path_, key, v->dump());
    return v->get<std::string>();
  }

 private:
  const std::string& path_;
  const json& root_;
};

void parse_rope_scaling(const std::string& path, const json& root, Config& c) {
  const json* scaling = nullptr;
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    auto it = root.find(key);
    if (it != root.end() && !it->is_null()) {
      if (!it->is_object()) fail("{}: key {}: expected an object, got {}", path, key, it->dump());
      scaling = &*it;
      break;
    }
  }
  if (scaling == nullptr) return;
  const std::string where = path + ": rope_scaling";
  Reader r(where, *scaling);
  RopeScaling& s = c.rope_scaling;
  s.type = r.string("rope_type", r.string("type"));
  if (s.type == "default") s.type.clear();
  if (const json* theta = r.find("rope_theta")) {  // transformers >= 4.56 moves rope_theta here
    if (!theta->is_number()) fail("{}: key rope_theta: expected a number", where);
    c.rope_theta = theta->get<double>();
  }
  s.factor = r.number("factor", 1.0);
  s.original_max_position_embeddings = r.integer("original_max_position_embeddings", int64_t{0}, 0);
  s.beta_fast = r.number("beta_fast", 0, &s.has_beta_fast);
  s.beta_slow = r.number("beta_slow", 0, &s.has_beta_slow);
  s.mscale = r.number("mscale", 0);
  s.mscale_all_dim = r.number("mscale_all_dim", 0, &s.has_mscale_all_dim);
  bool has_attn = false;
  s.attention_factor = r.number("attention_factor", r.number("attn_factor", 0, &has_attn), &s.has_attention_factor);
  s.has_attention_factor = s.has_attention_factor || has_attn;
  s.extrapolation_factor = r.number("extrapolation_factor", 0, &s.has_extrapolation_factor);
  s.low_freq_factor = r.number("low_freq_factor", 1.0);
  s.high_freq_factor = r.number("high_freq_factor", 4.0);
  if (!s.type.empty() && s.type != "linear" && s.type != "yarn" && s.type != "llama3") {
    fail("{}: type \"{}\" is not supported (expected linear, yarn or llama3)", where, s.type);
  }
  if (!(s.factor > 0)) fail("{}: factor: expected a positive number, got {}", where, s.factor);
  if (s.type == "yarn" && s.original_max_position_embeddings <= 0) {
    fail("{}: yarn needs original_max_position_embeddings", where);
  }
  if (s.type == "llama3") {
    if (s.original_max_position_embeddings <= 0) s.original_max_position_embeddings = 8192;
    if (s.high_freq_factor == s.low_freq_factor) {
      fail("{}: llama3 needs high_freq_factor != low_freq_factor", where);
    }
  }
}

}  // namespace

Config parse_config(const std::string& config_path) {
  json root;
  try {
    root = json::parse(read_text_file(config_path));
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", config_path, e.what());
  }
  if (!root.is_object()) fail("{}: expected a JSON object", config_path);
  Reader r(config_path, root);
  Config c;
  c.path = config_path;
  c.model_type = r.string("model_type");
  if (c.model_type == "llama" || c.model_type == "qwen2" || c.model_type == "qwen3") {
    c.arch = c.model_type;
  } else if (c.model_type == "deepseek_v2" || c.model_type == "deepseek_v3") {
    c.arch = "deepseek2";
  } else {
    fail("{}: key model_type: \"{}\" is not supported (expected llama, qwen2, qwen3, deepseek_v2 or deepseek_v3)",
         config_path, c.model_type);
  }

  c.vocab_size = r.integer("vocab_size");
  c.hidden_size = r.integer("hidden_size");
  c.num_hidden_layers = r.integer("num_hidden_layers");
  c.intermediate_size = r.integer("intermediate_size");
  c.num_attention_heads = r.integer("num_attention_heads");
  c.num_key_value_heads = r.integer("num_key_value_heads", c.num_attention_heads);
  c.max_position_embeddings = r.integer("max_position_embeddings", int64_t{4096});
  c.rms_norm_eps = r.number("rms_norm_eps", 1e-6);
  c.rope_theta = r.number("rope_theta", 10000.0);
  c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
  c.attention_bias = c.model_type == "qwen2" ? true : r.boolean("attention_bias", false);
  c.has_head_dim = r.find("head_dim") != nullptr;
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    fail("{}: key num_key_value_heads: {} does not divide num_attention_heads {}", config_path,
         c.num_key_value_heads, c.num_attention_heads);
  }
  if (c.has_head_dim) {
    c.head_dim = r.integer("head_dim");
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      fail("{}: key hidden_size: {} is not a multiple of num_attention_heads {} (and no head_dim is given)",
           config_path, c.hidden_size, c.num_attention_heads);
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim > kMaxHeadDim) {
    fail("{}: key {}: head size {} is larger than 2^20", config_path, c.has_head_dim ? "head_dim" : "hidden_size",
         c.head_dim);
  }
  parse_rope_scaling(config_path, root, c);
  if (!(c.rms_norm_eps > 0)) fail("{}: key rms_norm_eps: expected a positive number", config_path);
  if (!(c.rope_theta > 0)) fail("{}: key rope_theta: expected a positive number", config_path);

  if (c.is_deepseek()) {
    c.q_lora_rank = r.integer("q_lora_rank", int64_t{0}, 0);
    c.kv_lora_rank = r.integer("kv_lora_rank");
    c.qk_nope_head_dim = r.integer("qk_nope_head_dim");
    c.qk_rope_head_dim = r.integer("qk_rope_head_dim");
    c.v_head_dim = r.integer("v_head_dim");
    if (c.qk_rope_head_dim % 2 != 0) fail("{}: key qk_rope_head_dim: expected an even number", config_path);
    c.n_routed_experts = r.integer("n_routed_experts", int64_t{0}, 0);
    c.n_shared_experts = r.integer("n_shared_experts", int64_t{0}, 0);
    c.moe_intermediate_size = r.integer("moe_intermediate_size", c.intermediate_size);
    c.first_k_dense_replace =
        r.integer("first_k_dense_replace", c.n_routed_experts > 0 ? 0 : c.num_hidden_layers, 0);
    if (c.n_routed_experts > 0) {
      c.num_experts_per_tok = r.integer("num_experts_per_tok");
      if (c.num_experts_per_tok > c.n_routed_experts) {
        fail("{}: key num_experts_per_tok: {} is more than n_routed_experts {}", config_path,
             c.num_experts_per_tok, c.n_routed_experts);
      }
      const int64_t moe_layer_freq = r.integer("moe_layer_freq", int64_t{1});
      if (moe_layer_freq != 1) fail("{}: key moe_layer_freq: only 1 is supported, got {}", config_path, moe_layer_freq);
    }
    c.n_group = r.integer("n_group", int64_t{0}, 0);
    c.topk_group = r.integer("topk_group", int64_t{0}, 0);
    c.num_nextn_predict_layers = r.integer("num_nextn_predict_layers", int64_t{0}, 0);
    c.routed_scaling_factor = r.number("routed_scaling_factor", 1.0, &c.has_routed_scaling_factor);
    c.norm_topk_prob = r.boolean("norm_topk_prob", false);
    c.scoring_func = r.string("scoring_func");
    c.topk_method = r.string("topk_method");
    if (!c.scoring_func.empty() && c.scoring_func != "softmax" && c.scoring_func != "sigmoid") {
      fail("{}: key scoring_func: \"{}\" is not supported (expected softmax or sigmoid)", config_path,
           c.scoring_func);
    }
  }
  return c;
}

void write_metadata(const Config& c, int64_t mtp_layers, gguf::Metadata& out) {
  const std::string& a = c.arch;
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  auto f32 = [](double v) { return static_cast<float>(v); };
  out.set_string("general.architecture", a);
  out.set_uint32(a + ".vocab_size", u32(c.vocab_size));
  out.set_uint32(a + ".block_count", u32(c.num_hidden_layers + mtp_layers));
  out.set_uint32(a + ".context_length", u32(c.max_position_embeddings));
  out.set_uint32(a + ".embedding_length", u32(c.hidden_size));
  out.set_uint32(a + ".feed_forward_length", u32(c.intermediate_size));
  out.set_uint32(a + ".attention.head_count", u32(c.num_attention_heads));
  // llama.cpp runs MLA as multi-query attention over the latent: one kv head.
  out.set_uint32(a + ".attention.head_count_kv", c.is_deepseek() ? 1u : u32(c.num_key_value_heads));
  out.set_float32(a + ".rope.freq_base", f32(c.rope_theta));
  out.set_float32(a + ".attention.layer_norm_rms_epsilon", f32(c.rms_norm_eps));

  const RopeScaling& s = c.rope_scaling;
  if (s.type == "linear") {
    out.set_string(a + ".rope.scaling.type", "linear");
    out.set_float32(a + ".rope.scaling.factor", f32(s.factor));
  } else if (s.type == "yarn") {
    out.set_string(a + ".rope.scaling.type", "yarn");
    out.set_float32(a + ".rope.scaling.factor", f32(s.factor));
    out.set_uint32(a + ".rope.scaling.original_context_length", u32(s.original_max_position_embeddings));
    if (s.has_extrapolation_factor) out.set_float32(a + ".rope.scaling.yarn_ext_factor", f32(s.extrapolation_factor));
    if (s.has_attention_factor) out.set_float32(a + ".rope.scaling.yarn_attn_factor", f32(s.attention_factor));
    if (s.has_beta_fast) out.set_float32(a + ".rope.scaling.yarn_beta_fast", f32(s.beta_fast));
    if (s.has_beta_slow) out.set_float32(a + ".rope.scaling.yarn_beta_slow", f32(s.beta_slow));
  }
  // llama3 scaling travels as the rope_freqs.weight tensor, as llama.cpp expects.

  if (!c.is_deepseek()) {
    out.set_uint32(a + ".attention.key_length", u32(c.head_dim));
    out.set_uint32(a + ".attention.value_length", u32(c.head_dim));
    out.set_uint32(a + ".rope.dimension_count", u32(c.head_dim));
    return;
  }
  out.set_uint32(a + ".leading_dense_block_count", u32(c.first_k_dense_replace));
  // llama.cpp reads q_lora_rank for every layer count except its hard-coded V2-Lite sizes; 0 means "no q LoRA"
  // in both llama.cpp and whale, so it is written even when config.json has none.
  out.set_uint32(a + ".attention.q_lora_rank", u32(c.q_lora_rank));
  out.set_uint32(a + ".attention.kv_lora_rank", u32(c.kv_lora_rank));
  // Latent-space head sizes (what the MQA form attends over), then the per-head sizes of the MHA form.
  out.set_uint32(a + ".attention.key_length", u32(c.kv_lora_rank + c.qk_rope_head_dim));
  out.set_uint32(a + ".attention.value_length", u32(c.kv_lora_rank));
  out.set_uint32(a + ".attention.key_length_mla", u32(c.qk_nope_head_dim + c.qk_rope_head_dim));
  out.set_uint32(a + ".attention.value_length_mla", u32(c.v_head_dim));
  out.set_uint32(a + ".rope.dimension_count", u32(c.qk_rope_head_dim));
  out.set_uint32(a + ".expert_feed_forward_length", u32(c.moe_intermediate_size));
  if (c.n_routed_experts > 0) {
    out.set_uint32(a + ".expert_count", u32(c.n_routed_experts));
    out.set_uint32(a + ".expert_used_count", u32(c.num_experts_per_tok));
  }
  out.set_uint32(a + ".expert_shared_count", u32(c.n_shared_experts));
  if (c.n_group > 0) out.set_uint32(a + ".expert_group_count", u32(c.n_group));
  if (c.topk_group > 0) out.set_uint32(a + ".expert_group_used_count", u32(c.topk_group));
  if (c.has_routed_scaling_factor) out.set_float32(a + ".expert_weights_scale", f32(c.routed_scaling_factor));
  if (c.norm_topk_prob) out.set_bool(a + ".expert_weights_norm", true);
  if (c.scoring_func == "softmax") out.set_uint32(a + ".expert_gating_func", 1);
  if (c.scoring_func == "sigmoid") out.set_uint32(a + ".expert_gating_func", 2);
  if (s.type == "yarn" && s.has_mscale_all_dim) {
    // llama.cpp stores 0.1 * mscale_all_dim here for deepseek2 and divides by 0.1 when loading.
    out.set_float32(a + ".rope.scaling.yarn_log_multiplier", f32(0.1 * s.mscale_all_dim));
  }
  if (mtp_layers > 0) out.set_uint32(a + ".nextn_predict_layers", u32(mtp_layers));
}

}  // namespace whale::hf
