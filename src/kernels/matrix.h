// Matrix: a read-only view of a 2-D weight {rows = out_features, cols = in_features} of any storage type,
// rows contiguous, as the matrix kernels take it. Built from a TensorView (2-D, or one expert of a stacked
// 3-D {n_expert, out, in} tensor).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "core/tensor.h"

namespace whale {

struct Matrix {
  DType dtype = DType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  // F8_E4M3 only: float32 block scales [ceil(rows/128), scale_cols = ceil(cols/128)]; the real value is
  // w[r, c] * scale_inv[(r / 128) * scale_cols + c / 128]. Null for every other type.
  const float* scale_inv = nullptr;
  int64_t scale_cols = 0;

  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
};

// A 2-D tensor as a Matrix (WHALE_ASSERTs the rank and that cols is a multiple of the block size; shapes are
// validated against the tensor specs at load). `scale_inv` is the F8 block-scale tensor, if any.
Matrix matrix_view(const TensorView& tensor, const TensorView* scale_inv = nullptr);
// Expert `e` of a stacked 3-D tensor {n_expert, rows, cols}. For F8, `scale_inv` is {n_expert, rs, cs}.
Matrix expert_matrix(const TensorView& tensor, int64_t e, const TensorView* scale_inv = nullptr);
// Rows [first, first + count) of m (for F8, first must be a multiple of 128).
Matrix row_slice(const Matrix& m, int64_t first, int64_t count);

}  // namespace whale
