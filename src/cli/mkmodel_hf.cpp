// `whale mkmodel --format hf`: a random model as a Hugging Face folder (config.json, model.safetensors,
// tokenizer files). Tensors are produced under their HF names and layouts, the inverse of what
// formats/model_source does when it reads a folder, so the folder and the GGUF of the same seed describe the
// same model. model.safetensors is streamed: the header is computed from the shapes, then each tensor is
// generated and written in turn.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "cli/mkmodel.h"
#include "core/error.h"
#include "formats/safetensors.h"
#include "kernels/ref/quant.h"
#include "models/random_model.h"

namespace whale::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int64_t kFp8Block = ref::kFp8BlockSize;

struct HfTensor {
  std::string name;
  DType dtype;
  Shape shape;
  std::function<std::vector<uint8_t>()> bytes;
};

int64_t elements(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::vector<uint8_t> encode(const std::vector<float>& v, DType type) {
  std::vector<uint8_t> out(dtype_bytes(type, v.size()));
  ref::quantize_row(type, v.data(), out.data(), static_cast<int64_t>(v.size()));
  return out;
}

// FP8 weight and its block scales from f32 values [rows, cols]: scale = amax / 448 per 128x128 block.
std::vector<float> fp8_scales(const std::vector<float>& v, int64_t rows, int64_t cols) {
  const int64_t br = (rows + kFp8Block - 1) / kFp8Block, bc = (cols + kFp8Block - 1) / kFp8Block;
  std::vector<float> scales(static_cast<size_t>(br * bc), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      float& s = scales[static_cast<size_t>((r / kFp8Block) * bc + c / kFp8Block)];
      s = std::max(s, std::fabs(v[static_cast<size_t>(r * cols + c)]));
    }
  }
  for (float& s : scales) s = s > 0.0f ? s / 448.0f : 1.0f;
  return scales;
}

std::vector<uint8_t> fp8_weight(const std::vector<float>& v, int64_t rows, int64_t cols) {
  const std::vector<float> scales = fp8_scales(v, rows, cols);
  const int64_t bc = (cols + kFp8Block - 1) / kFp8Block;
  std::vector<uint8_t> out(v.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float s = scales[static_cast<size_t>((r / kFp8Block) * bc + c / kFp8Block)];
      out[static_cast<size_t>(r * cols + c)] = f32_to_f8_e4m3(v[static_cast<size_t>(r * cols + c)] / s);
    }
  }
  return out;
}

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// Collects the HF tensors of a plan.
class HfTensorList {
 public:
  explicit HfTensorList(const RandomModelPlan& plan) : plan_(plan) {
    for (const TensorSpec& spec : plan.tensors) specs_[spec.name] = spec;
  }

  std::vector<HfTensor> build() {
    const ModelConfig& c = plan_.config;
    for (const TensorSpec& spec : plan_.tensors) {
      const std::string& n = spec.name;
      if (n == "rope_freqs.weight") continue;  // config.json's rope_scaling carries it
      if (n == "token_embd.weight") { add_whole("model.embed_tokens.weight", spec); continue; }
      if (n == "output_norm.weight") { add_whole("model.norm.weight", spec); continue; }
      if (n == "output.weight") { add_whole("lm_head.weight", spec); continue; }
      const size_t dot = n.find('.', 4);
      const std::string layer = n.substr(4, dot - 4);
      const std::string suffix = n.substr(dot + 1);
      const std::string hf = "model.layers." + layer + ".";
      if (c.arch == "llama" && (suffix == "attn_q.weight" || suffix == "attn_k.weight")) {
        add_unpermuted(hf + (suffix == "attn_q.weight" ? "self_attn.q_proj.weight" : "self_attn.k_proj.weight"), spec,
                       suffix == "attn_q.weight" ? c.head_count : c.head_count_kv);
      } else if (suffix == "attn_k_b.weight") {
        add_kv_b(hf + "self_attn.kv_b_proj.weight", spec, specs_.at("blk." + layer + ".attn_v_b.weight"));
      } else if (suffix == "attn_v_b.weight") {
        continue;  // merged with attn_k_b
      } else if (suffix.find("_exps.") != std::string::npos) {
        add_experts(hf + "mlp.experts.", spec);
      } else {
        add_whole(hf + hf_suffix(suffix), spec);
      }
    }
    return std::move(out_);
  }

 private:
  static std::string hf_suffix(const std::string& s) {
    static const std::map<std::string, std::string> names = {
        {"attn_norm.weight", "input_layernorm.weight"},
        {"attn_q.weight", "self_attn.q_proj.weight"},
        {"attn_k.weight", "self_attn.k_proj.weight"},
        {"attn_v.weight", "self_attn.v_proj.weight"},
        {"attn_q.bias", "self_attn.q_proj.bias"},
        {"attn_k.bias", "self_attn.k_proj.bias"},
        {"attn_v.bias", "self_attn.v_proj.bias"},
        {"attn_output.weight", "self_attn.o_proj.weight"},
        {"attn_q_norm.weight", "self_attn.q_norm.weight"},
        {"attn_k_norm.weight", "self_attn.k_norm.weight"},
        {"attn_q_a.weight", "self_attn.q_a_proj.weight"},
        {"attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight"},
        {"attn_q_b.weight", "self_attn.q_b_proj.weight"},
        {"attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight"},
        {"attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight"},
        {"attn_kv_b.weight", "self_attn.kv_b_proj.weight"},
        {"ffn_norm.weight", "post_attention_layernorm.weight"},
        {"ffn_gate.weight", "mlp.gate_proj.weight"},
        {"ffn_up.weight", "mlp.up_proj.weight"},
        {"ffn_down.weight", "mlp.down_proj.weight"},
        {"ffn_gate_inp.weight", "mlp.gate.weight"},
        {"exp_probs_b.bias", "mlp.gate.e_score_correction_bias"},
        {"ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight"},
        {"ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight"},
        {"ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight"},
        {"nextn.eh_proj.weight", "eh_proj.weight"},
        {"nextn.enorm.weight", "enorm.weight"},
        {"nextn.hnorm.weight", "hnorm.weight"},
        {"nextn.shared_head_norm.weight", "shared_head.norm.weight"},
        {"nextn.embed_tokens.weight", "embed_tokens.weight"},
        {"nextn.shared_head_head.weight", "shared_head.head.weight"},
    };
    auto it = names.find(s);
    WHALE_ASSERT(it != names.end() && "tensor without a Hugging Face name");
    return it->second;
  }

  // The storage of a tensor of `kind` in the folder.
  DType storage(TensorKind kind) const {
    if (kind == TensorKind::Matrix) return plan_.type;
    if (kind == TensorKind::Embedding) return plan_.type == DType::F8_E4M3 ? DType::BF16 : plan_.type;
    return DType::F32;
  }

  // Adds `name` with values produced by `values` ({rows, cols} for matrices), in the kind's storage; FP8
  // matrices get their NAME_scale_inv companion.
  void add(const std::string& name, TensorKind kind, Shape shape, std::function<std::vector<float>()> values) {
    const DType type = storage(kind);
    if (type == DType::F8_E4M3) {
      const int64_t rows = shape[0], cols = shape[1];
      out_.push_back({name, type, shape, [=] { return fp8_weight(values(), rows, cols); }});
      Shape scale_shape = {(rows + kFp8Block - 1) / kFp8Block, (cols + kFp8Block - 1) / kFp8Block};
      out_.push_back({name + "_scale_inv", DType::F32, scale_shape,
                      [=] { return f32_bytes(fp8_scales(values(), rows, cols)); }});
      return;
    }
    out_.push_back({name, type, std::move(shape), [=] { return encode(values(), type); }});
  }

  std::function<std::vector<float>()> values_of(const TensorSpec& spec) const {
    const RandomModelPlan* plan = &plan_;
    return [plan, spec] { return random_tensor(plan->config, spec, plan->seed); };
  }

  void add_whole(const std::string& name, const TensorSpec& spec) { add(name, spec.kind, spec.shape, values_of(spec)); }

  // llama.cpp's llama q/k rows are permuted for interleaved rope; HF keeps the two halves per head.
  void add_unpermuted(const std::string& name, const TensorSpec& spec, int64_t heads) {
    auto gguf = values_of(spec);
    const int64_t rows = spec.shape[0], cols = spec.shape[1];
    add(name, spec.kind, spec.shape, [=] {
      const std::vector<float> g = gguf();
      std::vector<float> h(g.size());
      const int64_t per_head = rows / heads, half = per_head / 2;
      for (int64_t head = 0; head < heads; ++head) {
        for (int64_t i = 0; i < half; ++i) {
          for (int64_t j = 0; j < 2; ++j) {
            const int64_t from = head * per_head + 2 * i + j, to = head * per_head + j * half + i;
            std::copy_n(g.begin() + from * cols, cols, h.begin() + to * cols);
          }
        }
      }
      return h;
    });
  }

  // kv_b_proj [heads * (nope + v), rank] from attn_k_b {heads, rank, nope} and attn_v_b {heads, v, rank}.
  void add_kv_b(const std::string& name, const TensorSpec& k_spec, const TensorSpec& v_spec) {
    auto k_values = values_of(k_spec);
    auto v_values = values_of(v_spec);
    const int64_t heads = k_spec.shape[0], rank = k_spec.shape[1], nope = k_spec.shape[2], v = v_spec.shape[1];
    add(name, TensorKind::Matrix, {heads * (nope + v), rank}, [=] {
      const std::vector<float> kb = k_values(), vb = v_values();
      std::vector<float> out(static_cast<size_t>(heads * (nope + v) * rank));
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t j = 0; j < nope; ++j) {
          for (int64_t r = 0; r < rank; ++r) {
            out[static_cast<size_t>((h * (nope + v) + j) * rank + r)] = kb[static_cast<size_t>((h * rank + r) * nope + j)];
          }
        }
        std::copy_n(vb.begin() + h * v * rank, v * rank, out.begin() + (h * (nope + v) + nope) * rank);
      }
      return out;
    });
  }

  void add_experts(const std::string& prefix, const TensorSpec& spec) {
    const std::string proj = spec.name.find("ffn_gate_exps") != std::string::npos ? "gate_proj"
                             : spec.name.find("ffn_up_exps") != std::string::npos ? "up_proj"
                                                                                  : "down_proj";
    const RandomModelPlan* plan = &plan_;
    const int64_t n = spec.shape[0], rows = spec.shape[1], cols = spec.shape[2];
    for (int64_t e = 0; e < n; ++e) {
      add(prefix + std::to_string(e) + "." + proj + ".weight", TensorKind::Matrix, {rows, cols},
          [plan, spec, e] { return random_expert(plan->config, spec, plan->seed, e); });
    }
  }

  const RandomModelPlan& plan_;
  std::map<std::string, TensorSpec> specs_;
  std::vector<HfTensor> out_;
};

std::string torch_dtype(DType type) {
  switch (type) {
    case DType::F16: return "float16";
    case DType::BF16:
    case DType::F8_E4M3: return "bfloat16";
    default: return "float32";
  }
}

json config_json(const RandomModelPlan& plan) {
  const ModelConfig& c = plan.config;
  json j;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["num_hidden_layers"] = c.main_block_count();
  j["num_attention_heads"] = c.head_count;
  j["max_position_embeddings"] = c.context_length;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope.theta;
  j["tie_word_embeddings"] = plan.tied;
  j["torch_dtype"] = torch_dtype(plan.type);
  if (c.is_deepseek2()) {
    const bool v3 = c.expert_gating_func == ExpertGating::Sigmoid;
    j["model_type"] = v3 ? "deepseek_v3" : "deepseek_v2";
    j["architectures"] = {v3 ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM"};
    j["num_key_value_heads"] = c.head_count;
    j["intermediate_size"] = c.feed_forward_length;
    j["q_lora_rank"] = c.q_lora_rank > 0 ? json(c.q_lora_rank) : json(nullptr);
    j["kv_lora_rank"] = c.kv_lora_rank;
    j["qk_nope_head_dim"] = c.qk_nope_head_dim;
    j["qk_rope_head_dim"] = c.qk_rope_head_dim;
    j["v_head_dim"] = c.v_head_dim;
    j["n_routed_experts"] = c.expert_count;
    j["n_shared_experts"] = c.expert_shared_count;
    j["num_experts_per_tok"] = c.experts_per_token;
    j["moe_intermediate_size"] = c.expert_feed_forward_length;
    j["first_k_dense_replace"] = c.leading_dense_block_count;
    j["moe_layer_freq"] = 1;
    j["n_group"] = c.expert_group_count;
    j["topk_group"] = c.expert_group_used_count;
    j["topk_method"] = v3 ? "noaux_tc" : (c.expert_group_count > 1 ? "group_limited_greedy" : "greedy");
    j["scoring_func"] = v3 ? "sigmoid" : "softmax";
    j["norm_topk_prob"] = c.expert_weights_norm;
    j["routed_scaling_factor"] = c.expert_weights_scale;
    j["num_nextn_predict_layers"] = c.nextn_predict_layers;
    if (c.rope.scaling == RopeScaling::Yarn) {
      const double mscale_all_dim = c.rope.yarn_log_multiplier / 0.1;
      j["rope_scaling"] = {{"type", "yarn"},
                           {"factor", c.rope.factor},
                           {"original_max_position_embeddings", c.rope.original_context_length},
                           {"beta_fast", c.rope.yarn_beta_fast},
                           {"beta_slow", c.rope.yarn_beta_slow},
                           {"mscale", mscale_all_dim},
                           {"mscale_all_dim", mscale_all_dim}};
    }
  } else {
    static const std::map<std::string, std::string> classes = {
        {"llama", "LlamaForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"}, {"qwen3", "Qwen3ForCausalLM"}};
    j["model_type"] = c.arch;
    j["architectures"] = {classes.at(c.arch)};
    j["num_key_value_heads"] = c.head_count_kv;
    j["head_dim"] = c.key_length;
    j["intermediate_size"] = c.feed_forward_length;
    j["attention_bias"] = c.arch == "qwen2";
    if (c.rope.scaling == RopeScaling::Llama3) {
      j["rope_scaling"] = {{"rope_type", "llama3"},
                           {"factor", c.rope.factor},
                           {"low_freq_factor", c.rope.low_freq_factor},
                           {"high_freq_factor", c.rope.high_freq_factor},
                           {"original_max_position_embeddings", c.rope.original_context_length}};
    }
  }
  if (plan.type == DType::F8_E4M3) {
    j["quantization_config"] = {{"quant_method", "fp8"},
                                {"fmt", "e4m3"},
                                {"weight_block_size", {kFp8Block, kFp8Block}},
                                {"activation_scheme", "dynamic"}};
  }
  return j;
}

void write_safetensors(const std::vector<HfTensor>& tensors, const std::string& path) {
  json header = json::object();
  uint64_t offset = 0;
  for (const HfTensor& t : tensors) {
    const uint64_t bytes = dtype_bytes(t.dtype, static_cast<uint64_t>(elements(t.shape)));
    header[t.name] = {{"dtype", std::string(safetensors::dtype_string(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot open for writing", tmp);
    const uint64_t n = text.size();
    std::array<char, 8> len;
    for (size_t i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out.write(len.data(), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const HfTensor& t : tensors) {
      const std::vector<uint8_t> bytes = t.bytes();
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    if (!out) fail("{}: write failed", tmp);
  }
  fs::rename(tmp, path);
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) fail("{}: write failed", path.string());
}

}  // namespace

uint8_t f32_to_f8_e4m3(float v) {
  // The 127 finite non-negative codes are increasing in value; find the nearest, ties to the even code.
  static const std::array<float, 127> values = [] {
    std::array<float, 127> a{};
    for (int i = 0; i < 127; ++i) a[static_cast<size_t>(i)] = f8_e4m3_to_f32(static_cast<uint8_t>(i));
    return a;
  }();
  const uint8_t sign = std::signbit(v) ? 0x80 : 0x00;
  const float m = std::min(std::fabs(v), 448.0f);
  const auto it = std::lower_bound(values.begin(), values.end(), m);
  size_t hi = static_cast<size_t>(it - values.begin());
  if (hi == values.size()) hi = values.size() - 1;
  size_t best = hi;
  if (hi > 0) {
    const float below = m - values[hi - 1], above = values[hi] - m;
    if (below < above || (below == above && (hi - 1) % 2 == 0)) best = hi - 1;
  }
  return static_cast<uint8_t>(sign | best);
}

void write_hf_folder(const RandomModelPlan& plan, const std::string& folder) {
  fs::create_directories(folder);
  const fs::path dir(folder);
  write_text(dir / "config.json", config_json(plan).dump(2));
  write_text(dir / "tokenizer.json", plan.tokenizer_json);
  if (!plan.tokenizer_config_json.empty()) write_text(dir / "tokenizer_config.json", plan.tokenizer_config_json);
  write_safetensors(HfTensorList(plan).build(), (dir / "model.safetensors").string());
}

}  // namespace whale::cli
