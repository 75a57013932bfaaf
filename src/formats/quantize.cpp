// Quantization of whole models into GGUF (see quantize.h).
#include "formats/quantize.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/error.h"
#include "formats/gguf_convert.h"
#include "kernels/ref/quant.h"

namespace whale::gguf {
namespace {

const std::vector<QuantScheme>& schemes() {
  // file_type values are llama.cpp's LLAMA_FTYPE_MOSTLY_* numbers.
  static const std::vector<QuantScheme> all = {
      {"f32", DType::F32, false, false, 0},      {"f16", DType::F16, false, false, 1},
      {"bf16", DType::BF16, false, false, 32},   {"q8_0", DType::Q8_0, false, false, 7},
      {"q4_0", DType::Q4_0, false, false, 2},    {"q4_k_s", DType::Q4_K, false, true, 14},
      {"q4_k_m", DType::Q4_K, true, true, 15},   {"q5_k_s", DType::Q5_K, false, true, 16},
      {"q5_k_m", DType::Q5_K, true, true, 17},   {"q6_k", DType::Q6_K, false, true, 18},
  };
  return all;
}

// The layer of "blk.N.*", or -1.
int64_t layer_of(const std::string& name) {
  if (!name.starts_with("blk.")) return -1;
  int64_t layer = -1;
  const char* begin = name.data() + 4;
  const auto [end, ec] = std::from_chars(begin, name.data() + name.size(), layer);
  if (ec != std::errc() || end == begin || *end != '.') return -1;
  return layer;
}

bool fits(const TensorView& t, DType type) {
  return static_cast<size_t>(t.row_length()) % dtype_info(type).block_elements == 0;
}

}  // namespace

std::optional<QuantScheme> quant_scheme(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const QuantScheme& s : schemes()) {
    if (s.name == lower) return s;
  }
  return std::nullopt;
}

std::vector<std::string> quant_scheme_names() {
  std::vector<std::string> names;
  for (const QuantScheme& s : schemes()) names.push_back(s.name);
  return names;
}

bool more_bits(int64_t layer, int64_t layers) {
  return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

DType type_for(const TensorView& t, const QuantScheme& scheme, int64_t block_count, bool tied_output) {
  if (converted_type(t, DType::F16) == DType::F32) return DType::F32;  // norms, biases, vectors, router
  DType type = scheme.base;
  const std::string& n = t.name;
  const bool head = n == "output.weight" || (tied_output && n == "token_embd.weight");
  if (scheme.q6_k_output && head) type = DType::Q6_K;
  if (scheme.more_bits_mix) {
    const int64_t layer = layer_of(n);
    const bool sensitive = n.ends_with(".attn_v.weight") || n.find(".ffn_down") != std::string::npos;
    if (layer >= 0 && sensitive && more_bits(layer, block_count)) type = DType::Q6_K;
  }
  if (!fits(t, type)) type = fits(t, DType::Q8_0) ? DType::Q8_0 : DType::F16;
  return type;
}

void add_quantized_model(const ModelSource& source, const QuantScheme& scheme, ThreadPool& pool, Writer& writer) {
  Metadata& md = writer.metadata();
  for (const auto& [key, value] : source.metadata().entries()) {
    if (key == "general.alignment") continue;  // the writer lays data out with its own alignment
    md.set(key, value);
  }
  md.set_string("general.type", "model");
  md.set_uint32("general.file_type", scheme.file_type);
  md.set_uint32("general.quantization_version", 2);

  const std::string arch = source.architecture();
  const int64_t block_count = static_cast<int64_t>(source.metadata().get_int(arch + ".block_count"));
  const bool tied = source.find_tensor("output.weight") == nullptr;
  for (const TensorView& t : source.tensors()) {
    // FP8 block scales are applied to their weights as rows are read: GGUF has no FP8 type.
    if (source.is_block_scale(t)) continue;
    const DType type = type_for(t, scheme, block_count, tied);
    if (type == t.dtype) {
      writer.add_tensor_ref(t.name, t.dtype, t.shape, t.data, t.bytes);
      continue;
    }
    writer.add_tensor_generated(t.name, type, t.shape, [&source, t, type, &pool](uint8_t* dst) {
      const int64_t row = t.row_length();
      const size_t dst_row_bytes = dtype_bytes(type, static_cast<uint64_t>(row));
      pool.parallel_for(0, t.rows(), 16, [&](int64_t lo, int64_t hi) {
        std::vector<float> buffer(static_cast<size_t>(row));
        for (int64_t r = lo; r < hi; ++r) {
          source.dequantize_row(t, r, buffer.data());
          ref::quantize_row(type, buffer.data(), dst + r * dst_row_bytes, row);
        }
      });
    });
  }
}

}  // namespace whale::gguf
