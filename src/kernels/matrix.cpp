// Matrix views of weight tensors (see matrix.h).
#include "kernels/matrix.h"

#include "core/error.h"
#include "kernels/ref/quant.h"

namespace whale {
namespace {

Matrix make(DType dtype, int64_t rows, int64_t cols, const uint8_t* data) {
  const DTypeInfo& info = dtype_info(dtype);
  WHALE_ASSERT(cols % static_cast<int64_t>(info.block_elements) == 0);
  Matrix m;
  m.dtype = dtype;
  m.rows = rows;
  m.cols = cols;
  m.data = data;
  m.row_bytes = dtype_bytes(dtype, static_cast<uint64_t>(cols));
  return m;
}

int64_t blocks(int64_t n) { return (n + ref::kFp8BlockSize - 1) / ref::kFp8BlockSize; }

}  // namespace

Matrix matrix_view(const TensorView& tensor, const TensorView* scale_inv) {
  WHALE_ASSERT(tensor.shape.size() == 2);
  Matrix m = make(tensor.dtype, tensor.shape[0], tensor.shape[1], tensor.data);
  if (scale_inv != nullptr) {
    WHALE_ASSERT(tensor.dtype == DType::F8_E4M3 && scale_inv->dtype == DType::F32);
    WHALE_ASSERT(scale_inv->elements() == blocks(m.rows) * blocks(m.cols));
    m.scale_inv = reinterpret_cast<const float*>(scale_inv->data);
    m.scale_cols = blocks(m.cols);
  }
  return m;
}

Matrix expert_matrix(const TensorView& tensor, int64_t e, const TensorView* scale_inv) {
  WHALE_ASSERT(tensor.shape.size() == 3 && e >= 0 && e < tensor.shape[0]);
  Matrix m = make(tensor.dtype, tensor.shape[1], tensor.shape[2], nullptr);
  m.data = tensor.data + static_cast<size_t>(e) * static_cast<size_t>(m.rows) * m.row_bytes;
  if (scale_inv != nullptr) {
    WHALE_ASSERT(tensor.dtype == DType::F8_E4M3 && scale_inv->dtype == DType::F32);
    const int64_t per_expert = blocks(m.rows) * blocks(m.cols);
    WHALE_ASSERT(scale_inv->elements() == tensor.shape[0] * per_expert);
    m.scale_inv = reinterpret_cast<const float*>(scale_inv->data) + e * per_expert;
    m.scale_cols = blocks(m.cols);
  }
  return m;
}

Matrix row_slice(const Matrix& m, int64_t first, int64_t count) {
  WHALE_ASSERT(first >= 0 && count >= 0 && first + count <= m.rows);
  Matrix s = m;
  s.rows = count;
  s.data = m.row(first);
  if (m.scale_inv != nullptr) {
    WHALE_ASSERT(first % ref::kFp8BlockSize == 0);
    s.scale_inv = m.scale_inv + (first / ref::kFp8BlockSize) * m.scale_cols;
  }
  return s;
}

}  // namespace whale
