// ModelSource -> GGUF writer (see gguf_convert.h).
#include "formats/gguf_convert.h"

#include <vector>

#include "core/error.h"
#include "kernels/ref/quant.h"

namespace whale::gguf {

uint32_t llama_file_type(DType type) {
  switch (type) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q8_0: return 7;
    case DType::BF16: return 32;
    default: break;
  }
  fail("no llama.cpp file type for {}", dtype_name(type));
}

DType converted_type(const TensorView& t, DType requested) {
  const std::string& n = t.name;
  // llama.cpp keeps these in F32: most of its code takes 1-D tensors and norms only as F32, and the router
  // (ffn_gate_inp) is small and precision-sensitive.
  if (t.shape.size() <= 1 || n.ends_with("_norm.weight") || !n.ends_with(".weight") ||
      n.find(".ffn_gate_inp.") != std::string::npos) {
    return DType::F32;
  }
  const size_t block = dtype_info(requested).block_elements;
  if (static_cast<size_t>(t.row_length()) % block != 0) return DType::F16;
  return requested;
}

void add_model(const ModelSource& source, DType requested, Writer& writer) {
  if (!ref::can_quantize(requested) || !dtype_is_gguf(requested)) {
    fail("cannot convert to {} (expected f32, f16, bf16, q8_0 or q4_0)", dtype_name(requested));
  }
  Metadata& md = writer.metadata();
  for (const auto& [key, value] : source.metadata().entries()) {
    if (key == "general.alignment") continue;  // the writer lays data out with its own alignment
    md.set(key, value);
  }
  md.set_string("general.type", "model");
  md.set_uint32("general.file_type", llama_file_type(requested));
  md.set_uint32("general.quantization_version", 2);

  for (const TensorView& t : source.tensors()) {
    // FP8 block scales are applied to their weights as rows are read: GGUF has no FP8 type.
    if (source.is_block_scale(t)) continue;
    const DType type = converted_type(t, requested);
    if (type == t.dtype) {
      writer.add_tensor_ref(t.name, t.dtype, t.shape, t.data, t.bytes);
      continue;
    }
    writer.add_tensor_generated(t.name, type, t.shape, [&source, t, type](uint8_t* dst) {
      const int64_t row = t.row_length();
      const int64_t rows = t.rows();
      const size_t dst_row_bytes = dtype_bytes(type, static_cast<uint64_t>(row));
      std::vector<float> buffer(static_cast<size_t>(row));
      for (int64_t r = 0; r < rows; ++r) {
        source.dequantize_row(t, r, buffer.data());
        ref::quantize_row(type, buffer.data(), dst + r * dst_row_bytes, row);
      }
    });
  }
}

}  // namespace whale::gguf
