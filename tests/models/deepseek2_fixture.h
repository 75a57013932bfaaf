// Tiny random deepseek2 models for the model tests: written as GGUF files from deepseek2's tensor specs and
// loaded through the normal path (ModelSource, load_model). Every tensor's values come from a generator
// seeded by its name, so files that differ only in layout or storage type hold the same weights: the split
// attn_k_b / attn_v_b tensors are cut from the same random kv_b as the unsplit layout.
#pragma once

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "formats/model_source.h"
#include "kernels/ref/quant.h"
#include "models/config.h"
#include "models/deepseek2.h"
#include "models/model.h"

namespace whale::test {

inline std::vector<float> random_values(const std::string& name, int64_t count, TensorKind kind, int64_t fan_in,
                                        uint32_t seed) {
  std::mt19937 rng(seed ^ static_cast<uint32_t>(std::hash<std::string>{}(name)));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) {
    const float z = normal(rng);
    switch (kind) {
      case TensorKind::Norm: x = 1.0f + 0.2f * z; break;
      case TensorKind::Bias: x = 0.05f * z; break;
      case TensorKind::Embedding: x = z; break;
      default: x = z / std::sqrt(static_cast<float>(fan_in)); break;
    }
  }
  return v;
}

// The checkpoint's kv_b [heads * (nope + v), rank] of block `blk` ("blk.3"): both layouts are cut from it.
inline std::vector<float> kv_b_values(const ModelConfig& c, const std::string& blk, uint32_t seed) {
  const int64_t rows = c.head_count * (c.qk_nope_head_dim + c.v_head_dim);
  return random_values(blk + ".attn_kv_b.weight", rows * c.kv_lora_rank, TensorKind::Matrix, c.kv_lora_rank, seed);
}

// Splits a kv_b [heads * (nope + v), rank] into attn_k_b [heads, rank, nope] and attn_v_b [heads, v, rank].
inline void split_kv_b(const ModelConfig& c, const std::vector<float>& kv_b, std::vector<float>& k_b,
                       std::vector<float>& v_b) {
  const int64_t heads = c.head_count, nope = c.qk_nope_head_dim, v = c.v_head_dim, rank = c.kv_lora_rank;
  k_b.assign(static_cast<size_t>(heads * rank * nope), 0.0f);
  v_b.assign(static_cast<size_t>(heads * v * rank), 0.0f);
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t d = 0; d < nope; ++d) {
      for (int64_t r = 0; r < rank; ++r) k_b[(h * rank + r) * nope + d] = kv_b[(h * (nope + v) + d) * rank + r];
    }
    for (int64_t j = 0; j < v; ++j) {
      for (int64_t r = 0; r < rank; ++r) v_b[(h * v + j) * rank + r] = kv_b[(h * (nope + v) + nope + j) * rank + r];
    }
  }
}

struct NamedTensor {
  TensorSpec spec;
  std::vector<float> values;
};

// The random weights of a model for `config`, named and shaped as the GGUF holds them (required tensors).
inline std::vector<NamedTensor> tiny_weights(const ModelConfig& config, uint32_t seed) {
  std::vector<NamedTensor> out;
  const std::string k_b_suffix = ".attn_k_b.weight";
  for (const TensorSpec& spec : tensor_specs(config)) {
    if (!spec.required || spec.name.ends_with(".attn_v_b.weight")) continue;  // attn_v_b comes with attn_k_b
    int64_t count = 1;
    for (int64_t d : spec.shape) count *= d;
    if (spec.name.ends_with(k_b_suffix)) {
      const std::string blk = spec.name.substr(0, spec.name.size() - k_b_suffix.size());
      std::vector<float> k_b, v_b;
      split_kv_b(config, kv_b_values(config, blk, seed), k_b, v_b);
      out.push_back({spec, std::move(k_b)});
      out.push_back({{blk + ".attn_v_b.weight", {config.head_count, config.v_head_dim, config.kv_lora_rank},
                      TensorKind::Matrix},
                     std::move(v_b)});
      continue;
    }
    out.push_back({spec, random_values(spec.name, count, spec.kind, spec.shape.back(), seed)});
  }
  return out;
}

// Writes `weights` as a GGUF model for `config`; matrices and embeddings are stored as `type`, the rest f32.
inline void write_gguf(const ModelConfig& config, const std::vector<NamedTensor>& weights, DType type,
                       const std::string& path) {
  gguf::Writer writer;
  write_model_config(config, writer.metadata());
  for (const NamedTensor& t : weights) {
    const bool quantized = t.spec.kind == TensorKind::Matrix || t.spec.kind == TensorKind::Embedding;
    const DType dtype = quantized ? type : DType::F32;
    std::vector<uint8_t> bytes(dtype_bytes(dtype, static_cast<uint64_t>(t.values.size())));
    ref::quantize_row(dtype, t.values.data(), bytes.data(), static_cast<int64_t>(t.values.size()));
    writer.add_tensor(t.spec.name, dtype, t.spec.shape, std::move(bytes));
  }
  writer.write(path);
}

inline void write_tiny_deepseek2(const ModelConfig& config, DType type, uint32_t seed, const std::string& path) {
  write_gguf(config, tiny_weights(config, seed), type, path);
}

// A tiny model written to a temporary file and loaded.
struct TinyDeepseek2 {
  TinyDeepseek2(const ModelConfig& config, DType type, int threads = 2, int64_t max_batch = 64, uint32_t seed = 7,
                const std::string& tag = "")
      : pool(threads) {
    path = (std::filesystem::path(::testing::TempDir()) /
            ("deepseek2_" + config.name + "_" + std::string(dtype_name(type)) + "_" + std::to_string(seed) +
             (config.mla_split_kv_b ? "_split" : "_kvb") + tag + ".gguf"))
               .string();
    for (char& ch : path) {
      if (ch == ' ') ch = '_';
    }
    write_tiny_deepseek2(config, type, seed, path);
    source = std::make_shared<const ModelSource>(ModelSource::open(path));
    LoadOptions options;
    options.pool = &pool;
    options.max_batch_tokens = max_batch;
    std::unique_ptr<Model> loaded = load_model(source, options);
    model.reset(dynamic_cast<Deepseek2Model*>(loaded.release()));
  }
  ~TinyDeepseek2() {
    model.reset();
    source.reset();
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }

  ThreadPool pool;
  std::string path;
  std::shared_ptr<const ModelSource> source;
  std::unique_ptr<Deepseek2Model> model;
};

// A preset with a vocabulary small enough for the tests.
inline ModelConfig tiny_config(std::string_view preset, int64_t vocab = 96) {
  ModelConfig c = *deepseek2_preset(preset);
  c.vocab_size = vocab;
  c.context_length = 4096;
  return c;
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0.0f;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return a.size() == b.size() ? m : INFINITY;
}

}  // namespace whale::test
