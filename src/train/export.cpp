// GGUF export of a trained network: the llama.cpp metadata keys of its config, the tokenizer and chat template,
// and every parameter under its llama.cpp tensor name (F32, or the requested type for the tensors llama.cpp
// quantizes, chosen by gguf::converted_type exactly as `whale convert` does).
#include "core/error.h"
#include "formats/gguf_convert.h"
#include "kernels/ref/quant.h"
#include "tokenizer/gguf_vocab.h"
#include "train/network.h"

namespace whale::train {

void save_gguf(const Network& network, const std::string& tokenizer_json, const std::string& tokenizer_config_json,
               const std::string& path, DType matrix_type) {
  if (matrix_type != DType::F32 && matrix_type != DType::F16 && matrix_type != DType::BF16 &&
      matrix_type != DType::Q8_0) {
    fail("{}: cannot export weights as {} (expected f32, f16, bf16 or q8_0)", path, dtype_name(matrix_type));
  }
  gguf::Writer writer;
  write_model_config(network.config(), writer.metadata());
  writer.metadata().set_string("general.type", "model");
  if (!tokenizer_json.empty()) add_tokenizer_to_gguf(tokenizer_json, tokenizer_config_json, writer.metadata());
  const uint32_t file_type = matrix_type == DType::Q8_0   ? 7
                             : matrix_type == DType::F16  ? 1
                             : matrix_type == DType::BF16 ? 32
                                                          : 0;
  writer.metadata().set_uint32("general.file_type", file_type);
  writer.metadata().set_uint32("general.quantization_version", 2);
  for (const Parameter& p : network.parameters()) {
    TensorView view;
    view.name = p.name;
    view.shape = p.shape;
    const DType type = gguf::converted_type(view, matrix_type);
    const int64_t cols = p.shape.back();
    const int64_t rows = static_cast<int64_t>(p.value.size()) / cols;
    const size_t row_bytes = dtype_bytes(type, static_cast<uint64_t>(cols));
    const float* values = p.value.data();
    writer.add_tensor_generated(p.name, type, p.shape, [=](uint8_t* dst) {
      for (int64_t r = 0; r < rows; ++r)
        ref::quantize_row(type, values + r * cols, dst + static_cast<size_t>(r) * row_bytes, cols);
    });
  }
  writer.write(path);
}

}  // namespace whale::train
