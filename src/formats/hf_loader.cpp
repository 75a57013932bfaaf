// Hugging Face folder -> ModelSource: config.json becomes llama.cpp GGUF keys, safetensors tensors become
// llama.cpp tensor names and layouts (see model_source.h for the list of rearrangements). The expected tensor
// list is derived from config.json, so missing, mis-shaped and unaccounted-for tensors are all reported.
#include "formats/hf_loader.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numbers>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "core/error.h"
#include "formats/hf_config.h"
#include "formats/safetensors.h"
#include "kernels/ref/quant.h"

namespace whale {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::optional<std::string> read_optional(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  return read_text_file(path.string());
}

// tokenizer_config.json's chat_template is a string, or a list of {name, template} (the "default" one wins).
std::optional<std::string> chat_template_from(const std::string& path, const std::string& text) {
  json config;
  try {
    config = json::parse(text);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
  if (!config.is_object()) fail("{}: expected a JSON object", path);
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    for (const json& entry : *it) {
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
          entry["template"].is_string()) {
        return entry["template"].get<std::string>();
      }
    }
  }
  fail("{}: key chat_template: expected a string or a list with a \"default\" template", path);
}

}  // namespace

// Builds the tensor list of one model; one instance per load.
class HfTensorMapper {
 public:
  struct Src {
    std::string hf_name;
    DType dtype;
    Shape shape;
    const uint8_t* data;
    size_t bytes;
    // F8_E4M3 only, one of: the checkpoint's scale tensor (any float type) for a weight as the file has it,
    // or owned f32 scales for a rearranged one; [ceil(rows/128), ceil(cols/128)] per matrix of `shape`.
    const TensorView* file_scale = nullptr;
    const float* scale = nullptr;
  };

  HfTensorMapper(const std::string& folder, const hf::Config& config, const safetensors::Checkpoint& ck,
                 ModelSource& out)
      : folder_(folder), c_(config), ck_(ck), out_(out) {}

  void map_all(int64_t mtp_layers);
  void check_all_used(int64_t mtp_layers) const;

 private:
  std::optional<Src> find(const std::string& hf, const Shape& shape, const std::string& gguf);
  Src take(const std::string& hf, const Shape& shape, const std::string& gguf) {
    auto src = find(hf, shape, gguf);
    if (!src) fail("{}: tensor {} (for {}): missing from the safetensors files", folder_, hf, gguf);
    return *src;
  }
  void add(const std::string& gguf, const Src& src);
  void map(const std::string& hf, const std::string& gguf, const Shape& shape) { add(gguf, take(hf, shape, gguf)); }
  void map_optional(const std::string& hf, const std::string& gguf, const Shape& shape) {
    if (auto src = find(hf, shape, gguf)) add(gguf, *src);
  }
  uint8_t* alloc(size_t bytes) {
    out_.owned_.push_back(std::make_unique<uint8_t[]>(bytes));
    return out_.owned_.back().get();
  }
  void read_scales(const Src& src, float* dst) const;
  Src dequantized(const Src& src);
  Src permute_for_rope(const Src& src, int64_t n_head);
  void map_dense_layer(int64_t i);
  void map_deepseek_layer(int64_t i, bool mtp);
  void map_ffn(const std::string& hf, const std::string& blk, int64_t ff);
  void map_experts(int64_t i, const std::string& blk);
  void map_kv_b(int64_t i, const std::string& blk);
  void add_rope_freqs();

  const std::string& folder_;
  const hf::Config& c_;
  const safetensors::Checkpoint& ck_;
  ModelSource& out_;
  std::set<std::string, std::less<>> used_;
};

std::optional<HfTensorMapper::Src> HfTensorMapper::find(const std::string& hf, const Shape& shape,
                                                         const std::string& gguf) {
  const TensorView* t = ck_.find_tensor(hf);
  if (t == nullptr) return std::nullopt;
  if (t->shape != shape) {
    fail("{}: tensor {} (for {}): expected shape {} from config.json, got {}", ck_.file_of(hf), hf, gguf,
         shape_string(shape), shape_string(t->shape));
  }
  used_.insert(hf);
  Src src{hf, t->dtype, t->shape, t->data, t->bytes};
  if (t->dtype != DType::F8_E4M3) return src;

  // DeepSeek-V3 FP8: real weight = W[r, c] * scale_inv[r / 128, c / 128]. The weight stays FP8 in the map;
  // the (small) scales become owned f32 when added, whatever their stored float type, so kernels can read
  // them directly.
  const std::string scale_name = hf + "_scale_inv";
  const TensorView* scale = ck_.find_tensor(scale_name);
  if (shape.size() != 2) fail("{}: tensor {}: FP8 is only supported for 2-D weights", ck_.file_of(hf), hf);
  if (scale == nullptr) {
    fail("{}: tensor {}: FP8 weight without {} (expected 128x128 block scales)", ck_.file_of(hf), hf, scale_name);
  }
  const int64_t rows = shape[0], cols = shape[1];
  const Shape scale_shape{(rows + 127) / 128, (cols + 127) / 128};
  if (scale->shape != scale_shape) {
    fail("{}: tensor {}: expected shape {} for the 128x128 block scales of a {} weight, got {}",
         ck_.file_of(scale_name), scale_name, shape_string(scale_shape), shape_string(shape),
         shape_string(scale->shape));
  }
  if (scale->dtype == DType::F8_E4M3) fail("{}: tensor {}: expected float scales", ck_.file_of(scale_name), scale_name);
  used_.insert(scale_name);
  src.file_scale = scale;
  return src;
}

// The f32 block scales of an FP8 Src into dst.
void HfTensorMapper::read_scales(const Src& src, float* dst) const {
  const int64_t count = (src.shape[src.shape.size() - 2] + 127) / 128 * ((src.shape.back() + 127) / 128) *
                        (src.shape.size() == 3 ? src.shape[0] : 1);
  if (src.file_scale != nullptr) {
    ref::dequantize_row(src.file_scale->dtype, src.file_scale->data, dst, count);
  } else {
    WHALE_ASSERT(src.scale != nullptr);
    std::memcpy(dst, src.scale, static_cast<size_t>(count) * sizeof(float));
  }
}

// An FP8 weight as owned f32, for the rearrangements that would split its 128x128 scale blocks.
HfTensorMapper::Src HfTensorMapper::dequantized(const Src& src) {
  if (src.dtype != DType::F8_E4M3) return src;
  WHALE_ASSERT(src.shape.size() == 2);
  const int64_t rows = src.shape[0], cols = src.shape[1];
  std::vector<float> scales(static_cast<size_t>((rows + 127) / 128 * ((cols + 127) / 128)));
  read_scales(src, scales.data());
  const size_t bytes = static_cast<size_t>(rows * cols) * sizeof(float);
  uint8_t* dst = alloc(bytes);
  ref::dequantize_f8_e4m3_blocks(src.data, scales.data(), rows, cols, reinterpret_cast<float*>(dst));
  return Src{src.hf_name, DType::F32, src.shape, dst, bytes};
}

void HfTensorMapper::add(const std::string& gguf, const Src& src) {
  WHALE_ASSERT(out_.tensor_index_.count(gguf) == 0);
  out_.tensor_index_.emplace(gguf, out_.tensors_.size());
  out_.tensors_.push_back(TensorView{gguf, src.dtype, src.shape, src.data, src.bytes});
  if (src.dtype != DType::F8_E4M3) return;
  // The scales as ModelSource presents them (model_source.h): "<name>_scale_inv", f32, blocks of the last
  // two dimensions under any leading (expert / head) dimension.
  WHALE_ASSERT(src.shape.size() >= 2 && (src.file_scale != nullptr || src.scale != nullptr));
  Shape scale_shape = src.shape;
  scale_shape[scale_shape.size() - 2] = (scale_shape[scale_shape.size() - 2] + 127) / 128;
  scale_shape.back() = (scale_shape.back() + 127) / 128;
  int64_t count = 1;
  for (int64_t d : scale_shape) count *= d;
  const size_t bytes = static_cast<size_t>(count) * sizeof(float);
  const uint8_t* data = reinterpret_cast<const uint8_t*>(src.scale);
  if (src.scale == nullptr) {
    uint8_t* converted = alloc(bytes);
    read_scales(src, reinterpret_cast<float*>(converted));
    data = converted;
  }
  const std::string name = gguf + "_scale_inv";
  WHALE_ASSERT(out_.tensor_index_.count(name) == 0);
  out_.tensor_index_.emplace(name, out_.tensors_.size());
  out_.tensors_.push_back(TensorView{name, DType::F32, scale_shape, data, bytes});
}

// llama.cpp's llama architecture rotates adjacent pairs; HF checkpoints rotate the two halves of each head.
// Within each head, output row 2i + j takes input row j * half + i, which makes the two conventions agree.
HfTensorMapper::Src HfTensorMapper::permute_for_rope(const Src& src, int64_t n_head) {
  const int64_t rows = src.shape[0];
  const int64_t per_head = rows / n_head;
  if (rows % n_head != 0 || per_head % 2 != 0) {
    fail("{}: tensor {}: {} rows do not split into {} heads of even size", folder_, src.hf_name, rows, n_head);
  }
  const size_t row_bytes = src.bytes / static_cast<size_t>(rows);
  uint8_t* dst = alloc(src.bytes);
  const int64_t half = per_head / 2;
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t to = h * per_head + 2 * i + j;
        const int64_t from = h * per_head + j * half + i;
        std::memcpy(dst + to * row_bytes, src.data + from * row_bytes, row_bytes);
      }
    }
  }
  Src out = src;
  out.data = dst;
  return out;
}

void HfTensorMapper::add_rope_freqs() {
  // llama3 rope scaling, as one factor per rotary frequency (llama.cpp divides each frequency by it).
  const hf::RopeScaling& s = c_.rope_scaling;
  const int64_t n = c_.head_dim / 2;
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  auto* factors = reinterpret_cast<float*>(alloc(bytes));
  const float old_context = static_cast<float>(s.original_max_position_embeddings);
  const float low = static_cast<float>(s.low_freq_factor), high = static_cast<float>(s.high_freq_factor);
  const float low_freq_wavelen = old_context / low, high_freq_wavelen = old_context / high;
  for (int64_t i = 0; i < n; ++i) {
    const float freq = 1.0f / std::pow(static_cast<float>(c_.rope_theta),
                                       static_cast<float>(2 * i) / static_cast<float>(c_.head_dim));
    const float wavelen = 2.0f * std::numbers::pi_v<float> / freq;
    if (wavelen < high_freq_wavelen) {
      factors[i] = 1.0f;
    } else if (wavelen > low_freq_wavelen) {
      factors[i] = static_cast<float>(s.factor);
    } else {
      const float smooth = (old_context / wavelen - low) / (high - low);
      factors[i] = 1.0f / ((1.0f - smooth) / static_cast<float>(s.factor) + smooth);
    }
  }
  add("rope_freqs.weight", Src{"(generated)", DType::F32, {n}, reinterpret_cast<uint8_t*>(factors), bytes});
}

void HfTensorMapper::map_ffn(const std::string& hf, const std::string& blk, int64_t ff) {
  const int64_t h = c_.hidden_size;
  map(hf + ".gate_proj.weight", blk + ".ffn_gate" + (hf.ends_with("shared_experts") ? "_shexp" : "") + ".weight", {ff, h});
  map(hf + ".up_proj.weight", blk + ".ffn_up" + (hf.ends_with("shared_experts") ? "_shexp" : "") + ".weight", {ff, h});
  map(hf + ".down_proj.weight", blk + ".ffn_down" + (hf.ends_with("shared_experts") ? "_shexp" : "") + ".weight", {h, ff});
}

void HfTensorMapper::map_dense_layer(int64_t i) {
  const std::string hf = fmt::format("model.layers.{}", i);
  const std::string blk = fmt::format("blk.{}", i);
  const int64_t h = c_.hidden_size, hd = c_.head_dim;
  const int64_t q_rows = c_.num_attention_heads * hd, kv_rows = c_.num_key_value_heads * hd;
  map(hf + ".input_layernorm.weight", blk + ".attn_norm.weight", {h});
  const bool permute = c_.arch == "llama";
  struct Proj {
    const char* hf;
    const char* gguf;
    int64_t rows;
    int64_t heads;  // for the rope permutation; 0: none
  };
  const Proj projections[] = {{"q_proj", "attn_q", q_rows, permute ? c_.num_attention_heads : 0},
                              {"k_proj", "attn_k", kv_rows, permute ? c_.num_key_value_heads : 0},
                              {"v_proj", "attn_v", kv_rows, 0}};
  for (const Proj& p : projections) {
    const std::string w = fmt::format("{}.self_attn.{}.weight", hf, p.hf);
    const std::string gw = fmt::format("{}.{}.weight", blk, p.gguf);
    Src weight = take(w, {p.rows, h}, gw);
    // The rope permutation moves rows across 128-row scale blocks, so an FP8 q / k is dequantized first.
    add(gw, p.heads ? permute_for_rope(dequantized(weight), p.heads) : weight);
    const std::string b = fmt::format("{}.self_attn.{}.bias", hf, p.hf);
    const std::string gb = fmt::format("{}.{}.bias", blk, p.gguf);
    std::optional<Src> bias = c_.attention_bias ? std::optional(take(b, {p.rows}, gb)) : find(b, {p.rows}, gb);
    if (bias) add(gb, p.heads ? permute_for_rope(*bias, p.heads) : *bias);
  }
  map(hf + ".self_attn.o_proj.weight", blk + ".attn_output.weight", {h, q_rows});
  map_optional(hf + ".self_attn.o_proj.bias", blk + ".attn_output.bias", {h});
  if (c_.arch == "qwen3") {
    map(hf + ".self_attn.q_norm.weight", blk + ".attn_q_norm.weight", {hd});
    map(hf + ".self_attn.k_norm.weight", blk + ".attn_k_norm.weight", {hd});
  }
  map(hf + ".post_attention_layernorm.weight", blk + ".ffn_norm.weight", {h});
  map_ffn(hf + ".mlp", blk, c_.intermediate_size);
}

void HfTensorMapper::map_kv_b(int64_t i, const std::string& blk) {
  // kv_b_proj [heads * (nope + v), kv_lora]: per head, nope rows for keys then v rows for values. llama.cpp
  // wants attn_k_b {heads, kv_lora, nope} (each head's key block transposed, for absorbing it into the
  // query) and attn_v_b {heads, v, kv_lora}.
  const int64_t heads = c_.num_attention_heads, nope = c_.qk_nope_head_dim, v = c_.v_head_dim;
  const int64_t rank = c_.kv_lora_rank;
  const std::string name = fmt::format("model.layers.{}.self_attn.kv_b_proj.weight", i);
  Src kv_b = take(name, {heads * (nope + v), rank}, blk + ".attn_k_b.weight");
  // An FP8 kv_b stays FP8 when every head's key and value rows are whole 128-row scale blocks (DeepSeek-V3:
  // nope = v = 128): each 128x128 block then moves (transposed for keys) as a unit and keeps its scale, so
  // the split is exact. Otherwise blocks would be split across heads, and the tensor (small: kv_lora columns)
  // is dequantized to f32, which is exact too.
  const bool keep_fp8 = kv_b.dtype == DType::F8_E4M3 && nope % 128 == 0 && v % 128 == 0;
  if (!keep_fp8) kv_b = dequantized(kv_b);
  const size_t elem = dtype_info(kv_b.dtype).block_bytes;
  uint8_t* k_b = alloc(static_cast<size_t>(heads * rank * nope) * elem);
  uint8_t* v_b = alloc(static_cast<size_t>(heads * v * rank) * elem);
  for (int64_t hh = 0; hh < heads; ++hh) {
    const uint8_t* head = kv_b.data + static_cast<size_t>(hh * (nope + v) * rank) * elem;
    for (int64_t j = 0; j < nope; ++j) {
      for (int64_t r = 0; r < rank; ++r) {
        std::memcpy(k_b + static_cast<size_t>((hh * rank + r) * nope + j) * elem,
                    head + static_cast<size_t>(j * rank + r) * elem, elem);
      }
    }
    std::memcpy(v_b + static_cast<size_t>(hh * v * rank) * elem, head + static_cast<size_t>(nope * rank) * elem,
                static_cast<size_t>(v * rank) * elem);
  }
  Src k_src{name, kv_b.dtype, {heads, rank, nope}, k_b, static_cast<size_t>(heads * rank * nope) * elem};
  Src v_src{name, kv_b.dtype, {heads, v, rank}, v_b, static_cast<size_t>(heads * v * rank) * elem};
  if (keep_fp8) {
    // attn_k_b[h] is head h's key rows transposed: block (rb, jb) of it is kv_b's block (head row block + jb,
    // rb). attn_v_b[h]'s block (ib, cb) is kv_b's (head row block + nope / 128 + ib, cb).
    const int64_t rank_blocks = (rank + 127) / 128, nope_blocks = nope / 128, v_blocks = v / 128;
    const int64_t head_blocks = nope_blocks + v_blocks;
    std::vector<float> kv_b_scale(static_cast<size_t>(heads * head_blocks * rank_blocks));
    read_scales(kv_b, kv_b_scale.data());
    auto* k_scale = reinterpret_cast<float*>(alloc(static_cast<size_t>(heads * rank_blocks * nope_blocks) * sizeof(float)));
    auto* v_scale = reinterpret_cast<float*>(alloc(static_cast<size_t>(heads * v_blocks * rank_blocks) * sizeof(float)));
    for (int64_t hh = 0; hh < heads; ++hh) {
      const float* head = kv_b_scale.data() + hh * head_blocks * rank_blocks;
      for (int64_t rb = 0; rb < rank_blocks; ++rb) {
        for (int64_t jb = 0; jb < nope_blocks; ++jb) {
          k_scale[(hh * rank_blocks + rb) * nope_blocks + jb] = head[jb * rank_blocks + rb];
        }
      }
      std::memcpy(v_scale + hh * v_blocks * rank_blocks, head + nope_blocks * rank_blocks,
                  static_cast<size_t>(v_blocks * rank_blocks) * sizeof(float));
    }
    k_src.scale = k_scale;
    v_src.scale = v_scale;
  }
  add(blk + ".attn_k_b.weight", k_src);
  add(blk + ".attn_v_b.weight", v_src);
}

void HfTensorMapper::map_experts(int64_t i, const std::string& blk) {
  const int64_t n = c_.n_routed_experts, h = c_.hidden_size, ff = c_.moe_intermediate_size;
  struct Kind {
    const char* hf;
    const char* gguf;
    Shape shape;
  };
  const Kind kinds[] = {{"gate_proj", "ffn_gate_exps", {ff, h}}, {"up_proj", "ffn_up_exps", {ff, h}},
                        {"down_proj", "ffn_down_exps", {h, ff}}};
  for (const Kind& k : kinds) {
    const std::string gguf = fmt::format("{}.{}.weight", blk, k.gguf);
    uint8_t* dst = nullptr;
    size_t each = 0;
    DType dtype = DType::F32;
    // FP8 experts: their block scales stacked the same way, {n, ceil(rows/128), ceil(cols/128)}.
    const size_t scales_each = static_cast<size_t>(((k.shape[0] + 127) / 128) * ((k.shape[1] + 127) / 128));
    float* scales = nullptr;
    for (int64_t e = 0; e < n; ++e) {
      const std::string name = fmt::format("model.layers.{}.mlp.experts.{}.{}.weight", i, e, k.hf);
      const Src src = take(name, k.shape, gguf);
      if (e == 0) {
        dtype = src.dtype;
        each = src.bytes;
        dst = alloc(each * static_cast<size_t>(n));
        if (dtype == DType::F8_E4M3) {
          scales = reinterpret_cast<float*>(alloc(scales_each * static_cast<size_t>(n) * sizeof(float)));
        }
      } else if (src.dtype != dtype) {
        fail("{}: tensor {}: dtype {} differs from expert 0's {}", ck_.file_of(name), name, dtype_name(src.dtype),
             dtype_name(dtype));
      }
      std::memcpy(dst + each * static_cast<size_t>(e), src.data, each);
      if (scales != nullptr) read_scales(src, scales + scales_each * static_cast<size_t>(e));
    }
    Src stacked{gguf, dtype, {n, k.shape[0], k.shape[1]}, dst, each * static_cast<size_t>(n)};
    stacked.scale = scales;
    add(gguf, stacked);
  }
}

void HfTensorMapper::map_deepseek_layer(int64_t i, bool mtp) {
  const std::string hf = fmt::format("model.layers.{}", i);
  const std::string blk = fmt::format("blk.{}", i);
  const int64_t h = c_.hidden_size, heads = c_.num_attention_heads;
  const int64_t q_head = c_.qk_nope_head_dim + c_.qk_rope_head_dim;
  map(hf + ".input_layernorm.weight", blk + ".attn_norm.weight", {h});
  if (c_.q_lora_rank > 0) {
    map(hf + ".self_attn.q_a_proj.weight", blk + ".attn_q_a.weight", {c_.q_lora_rank, h});
    map(hf + ".self_attn.q_a_layernorm.weight", blk + ".attn_q_a_norm.weight", {c_.q_lora_rank});
    map(hf + ".self_attn.q_b_proj.weight", blk + ".attn_q_b.weight", {heads * q_head, c_.q_lora_rank});
  } else {
    map(hf + ".self_attn.q_proj.weight", blk + ".attn_q.weight", {heads * q_head, h});
  }
  map(hf + ".self_attn.kv_a_proj_with_mqa.weight", blk + ".attn_kv_a_mqa.weight",
      {c_.kv_lora_rank + c_.qk_rope_head_dim, h});
  map(hf + ".self_attn.kv_a_layernorm.weight", blk + ".attn_kv_a_norm.weight", {c_.kv_lora_rank});
  map_kv_b(i, blk);
  map(hf + ".self_attn.o_proj.weight", blk + ".attn_output.weight", {h, heads * c_.v_head_dim});
  map(hf + ".post_attention_layernorm.weight", blk + ".ffn_norm.weight", {h});
  if (i < c_.first_k_dense_replace) {
    map_ffn(hf + ".mlp", blk, c_.intermediate_size);
  } else {
    map(hf + ".mlp.gate.weight", blk + ".ffn_gate_inp.weight", {c_.n_routed_experts, h});
    const std::string bias = hf + ".mlp.gate.e_score_correction_bias";
    if (c_.topk_method == "noaux_tc") {
      map(bias, blk + ".exp_probs_b.bias", {c_.n_routed_experts});
    } else {
      map_optional(bias, blk + ".exp_probs_b.bias", {c_.n_routed_experts});
    }
    map_experts(i, blk);
    if (c_.n_shared_experts > 0) map_ffn(hf + ".mlp.shared_experts", blk, c_.moe_intermediate_size * c_.n_shared_experts);
  }
  if (mtp) {
    map(hf + ".eh_proj.weight", blk + ".nextn.eh_proj.weight", {h, 2 * h});
    map(hf + ".enorm.weight", blk + ".nextn.enorm.weight", {h});
    map(hf + ".hnorm.weight", blk + ".nextn.hnorm.weight", {h});
    map(hf + ".shared_head.norm.weight", blk + ".nextn.shared_head_norm.weight", {h});
    map_optional(hf + ".embed_tokens.weight", blk + ".nextn.embed_tokens.weight", {c_.vocab_size, h});
    map_optional(hf + ".shared_head.head.weight", blk + ".nextn.shared_head_head.weight", {c_.vocab_size, h});
  }
}

void HfTensorMapper::map_all(int64_t mtp_layers) {
  const int64_t h = c_.hidden_size;
  if (c_.arch == "llama" && c_.rope_scaling.type == "llama3") add_rope_freqs();
  map("model.embed_tokens.weight", "token_embd.weight", {c_.vocab_size, h});
  map("model.norm.weight", "output_norm.weight", {h});
  if (c_.tie_word_embeddings) {
    map_optional("lm_head.weight", "output.weight", {c_.vocab_size, h});
  } else {
    map("lm_head.weight", "output.weight", {c_.vocab_size, h});
  }
  for (int64_t i = 0; i < c_.num_hidden_layers + mtp_layers; ++i) {
    if (c_.is_deepseek()) {
      map_deepseek_layer(i, i >= c_.num_hidden_layers);
    } else {
      map_dense_layer(i);
    }
  }
}

void HfTensorMapper::check_all_used(int64_t mtp_layers) const {
  const std::string mtp_prefix = "model.layers.";
  for (const TensorView& t : ck_.tensors()) {
    if (used_.count(t.name) != 0 || t.name.ends_with("rotary_emb.inv_freq")) continue;
    // Layers past the main stack are DeepSeek's MTP modules, left out unless asked for.
    if (t.name.starts_with(mtp_prefix)) {
      const int64_t layer = std::atoll(t.name.c_str() + mtp_prefix.size());
      if (c_.is_deepseek() && layer >= c_.num_hidden_layers + mtp_layers &&
          layer < c_.num_hidden_layers + c_.num_nextn_predict_layers) {
        continue;
      }
    }
    fail("{}: tensor {} is not part of the {} model that config.json describes ({} layers); config and weights "
         "disagree",
         ck_.file_of(t.name), t.name, c_.model_type, c_.num_hidden_layers);
  }
}

ModelSource HfLoader::load(const std::string& folder, const ModelSource::Options& options) {
  const fs::path dir(folder);
  std::error_code ec;
  if (!fs::exists(dir / "config.json", ec)) {
    fail("{}: not a Hugging Face model folder: config.json is missing", folder);
  }
  const hf::Config config = hf::parse_config((dir / "config.json").string());
  auto checkpoint = std::make_shared<safetensors::Checkpoint>(safetensors::Checkpoint::open(folder, options.residency));

  ModelSource source;
  source.kind_ = ModelSource::Kind::HuggingFace;
  source.path_ = folder;
  source.metadata_ = gguf::Metadata(folder);
  int64_t mtp_layers = 0;
  if (options.include_mtp && config.is_deepseek()) {
    while (mtp_layers < config.num_nextn_predict_layers &&
           checkpoint->find_tensor(fmt::format("model.layers.{}.eh_proj.weight", config.num_hidden_layers + mtp_layers))) {
      ++mtp_layers;
    }
  }
  hf::write_metadata(config, mtp_layers, source.metadata_);
  std::string name = fs::absolute(dir, ec).lexically_normal().filename().string();
  if (name.empty()) name = fs::absolute(dir, ec).lexically_normal().parent_path().filename().string();
  source.metadata_.set_string("general.name", name);

  HfTensorMapper mapper(folder, config, *checkpoint, source);
  mapper.map_all(mtp_layers);
  mapper.check_all_used(mtp_layers);

  source.tokenizer_json_ = read_optional(dir / "tokenizer.json");
  source.tokenizer_config_json_ = read_optional(dir / "tokenizer_config.json");
  source.generation_config_json_ = read_optional(dir / "generation_config.json");
  if (auto jinja = read_optional(dir / "chat_template.jinja")) {
    source.chat_template_ = std::move(jinja);
  } else if (source.tokenizer_config_json_) {
    source.chat_template_ =
        chat_template_from((dir / "tokenizer_config.json").string(), *source.tokenizer_config_json_);
  }
  source.file_bytes_ = checkpoint->total_bytes() + fs::file_size(dir / "config.json", ec);
  source.keep_alive_ = std::move(checkpoint);
  return source;
}

}  // namespace whale
