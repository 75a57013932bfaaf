// ModelSource for GGUF files, and the parts shared with Hugging Face folders (see model_source.h; the HF
// translation lives in hf_loader.cpp).
#include "formats/model_source.h"

#include <filesystem>

#include "core/error.h"
#include "formats/hf_loader.h"
#include "kernels/ref/quant.h"

namespace whale {

ModelSource ModelSource::open(const std::string& path, const Options& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return HfLoader::load(path, options);
  if (!std::filesystem::exists(path, ec)) {
    fail("{}: no such file or folder (expected a .gguf file or a Hugging Face model folder)", path);
  }
  auto file = std::make_shared<gguf::File>(gguf::File::open(path, options.residency));
  ModelSource source;
  source.kind_ = Kind::Gguf;
  source.path_ = path;
  source.metadata_ = file->metadata();
  source.tensors_ = file->tensors();
  for (size_t i = 0; i < source.tensors_.size(); ++i) source.tensor_index_.emplace(source.tensors_[i].name, i);
  source.file_bytes_ = file->file_size();
  source.chat_template_ = source.metadata_.find_string("tokenizer.chat_template");
  if (!source.metadata_.has("general.architecture")) fail("{}: key general.architecture: missing", path);
  source.metadata_.get_string("general.architecture");  // present and a string
  source.keep_alive_ = std::move(file);
  return source;
}

const TensorView* ModelSource::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& ModelSource::tensor(std::string_view name) const {
  const TensorView* t = find_tensor(name);
  if (t == nullptr) fail("{}: tensor {}: missing", path_, name);
  return *t;
}

namespace {

constexpr std::string_view kScaleSuffix = "_scale_inv";

int64_t fp8_blocks(int64_t n) { return (n + ref::kFp8BlockSize - 1) / ref::kFp8BlockSize; }

}  // namespace

const TensorView* ModelSource::scale_of(const TensorView& tensor) const {
  if (tensor.dtype != DType::F8_E4M3) return nullptr;
  const std::string name = tensor.name + std::string(kScaleSuffix);
  const TensorView* scale = find_tensor(name);
  if (scale == nullptr) fail("{}: tensor {}: f8_e4m3 weight without its {} block scales", path_, tensor.name, name);
  Shape expected = tensor.shape;
  if (expected.size() < 2) fail("{}: tensor {}: f8_e4m3 needs 2 or more dimensions", path_, tensor.name);
  expected[expected.size() - 2] = fp8_blocks(expected[expected.size() - 2]);
  expected.back() = fp8_blocks(expected.back());
  if (scale->dtype != DType::F32 || scale->shape != expected) {
    fail("{}: tensor {}: expected f32 {} block scales, got {} {}", path_, name, shape_string(expected),
         dtype_name(scale->dtype), shape_string(scale->shape));
  }
  return scale;
}

bool ModelSource::is_block_scale(const TensorView& tensor) const {
  if (!tensor.name.ends_with(kScaleSuffix)) return false;
  const TensorView* weight = find_tensor(std::string_view(tensor.name).substr(0, tensor.name.size() - kScaleSuffix.size()));
  return weight != nullptr && weight->dtype == DType::F8_E4M3;
}

void ModelSource::dequantize_row(const TensorView& tensor, int64_t row, float* out) const {
  WHALE_ASSERT(row >= 0 && row < tensor.rows());
  const int64_t cols = tensor.row_length();
  const uint8_t* src = tensor.data + static_cast<size_t>(row) * dtype_bytes(tensor.dtype, static_cast<uint64_t>(cols));
  const TensorView* scale = scale_of(tensor);
  if (scale == nullptr) {
    ref::dequantize_row(tensor.dtype, src, out, cols);
    return;
  }
  // Rows of a stack restart their block count at each matrix.
  const int64_t matrix_rows = tensor.shape[tensor.shape.size() - 2];
  const int64_t matrix = row / matrix_rows, r = row % matrix_rows;
  const int64_t scale_cols = fp8_blocks(cols);
  const float* scales = reinterpret_cast<const float*>(scale->data) +
                        (matrix * fp8_blocks(matrix_rows) + r / ref::kFp8BlockSize) * scale_cols;
  ref::dequantize_f8_e4m3_blocks(src, scales, 1, cols, out);
}

uint64_t ModelSource::tensor_bytes() const {
  uint64_t total = 0;
  for (const TensorView& t : tensors_) total += t.bytes;
  return total;
}

}  // namespace whale
