// Helpers for model tests: tiny configs, random GGUF files written to a temporary folder, and the f32
// values of their tensors (for independent reference implementations).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "formats/model_source.h"
#include "kernels/ref/quant.h"
#include "models/config.h"
#include "models/model.h"
#include "models/random_model.h"

namespace whale::test {

inline std::string temp_dir() {
  static const std::string dir = [] {
    std::string templ = (std::filesystem::temp_directory_path() / "whale-models-XXXXXX").string();
    const char* made = mkdtemp(templ.data());
    return std::string(made != nullptr ? made : "/tmp");
  }();
  return dir;
}

// A small dense config of `arch` with a byte-sized vocabulary.
inline ModelConfig tiny_dense_config(const std::string& arch) {
  ModelConfig c;
  c.arch = arch;
  c.vocab_size = 256;
  c.context_length = 128;
  c.hidden_size = 64;
  c.block_count = 2;
  c.head_count = 4;
  c.head_count_kv = 2;
  c.key_length = arch == "qwen3" ? 32 : 16;  // qwen3: head_dim independent of hidden / heads
  c.value_length = c.key_length;
  c.feed_forward_length = 96;
  c.rms_norm_eps = 1e-5f;
  c.rope.theta = arch == "llama" ? 500000.0 : 1000000.0;
  c.rope.dimension_count = c.key_length;
  c.rope.type = arch == "llama" ? RopeType::Normal : RopeType::Neox;
  if (arch == "llama") {
    c.rope.scaling = RopeScaling::Llama3;
    c.rope.factor = 8.0;
    c.rope.low_freq_factor = 1.0;
    c.rope.high_freq_factor = 4.0;
    c.rope.original_context_length = 16;  // small, so the tiny context exercises every regime
  }
  return c;
}

struct RandomModel {
  std::string path;
  std::map<std::string, std::vector<float>> values;  // f32 values as stored (after quantization)
};

// Writes a random model of `config` as GGUF. Llama's rope scaling goes into rope_freqs.weight as
// llama.cpp's converter does. With `tied`, output.weight is left out.
inline RandomModel write_random_gguf(const ModelConfig& config, DType type, uint64_t seed, const std::string& name,
                                     bool tied = false) {
  RandomModel m;
  m.path = temp_dir() + "/" + name + ".gguf";
  gguf::Writer w;
  ModelConfig meta = config;
  if (config.arch == "llama") meta.rope.scaling = RopeScaling::None;
  write_model_config(meta, w.metadata());
  for (const TensorSpec& spec : tensor_specs(config)) {
    if (!spec.required) {
      const bool wanted = (spec.name == "output.weight" && !tied) ||
                          (spec.name == "rope_freqs.weight" && config.rope.scaling == RopeScaling::Llama3);
      if (!wanted) continue;
    }
    std::vector<float> v = random_tensor(config, spec, seed);
    const bool quantize = spec.kind == TensorKind::Matrix || spec.kind == TensorKind::Embedding;
    const DType t = quantize ? type : DType::F32;
    std::vector<uint8_t> bytes(dtype_bytes(t, v.size()));
    const int64_t row = spec.shape.back();
    for (size_t off = 0; off < v.size(); off += static_cast<size_t>(row)) {
      ref::quantize_row(t, v.data() + off, bytes.data() + dtype_bytes(t, off), row);
      ref::dequantize_row(t, bytes.data() + dtype_bytes(t, off), v.data() + off, row);
    }
    m.values[spec.name] = std::move(v);
    w.add_tensor(spec.name, t, spec.shape, std::move(bytes));
  }
  w.write(m.path);
  return m;
}

inline std::shared_ptr<const ModelSource> open_source(const std::string& path) {
  return std::make_shared<const ModelSource>(ModelSource::open(path));
}

}  // namespace whale::test
