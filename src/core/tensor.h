// A view of a tensor's bytes where they lie (usually inside a memory-mapped file).
//
// Shapes are written outermost first, as in PyTorch and the papers: a linear weight is {out_features,
// in_features} and its rows are contiguous. (GGUF stores dimensions innermost first; the GGUF reader reverses
// them.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace whale {

using Shape = std::vector<int64_t>;

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;                   // outermost first
  const uint8_t* data = nullptr; // dtype_bytes(dtype, elements()) bytes
  size_t bytes = 0;

  int64_t elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int64_t rows() const { return shape.empty() ? 1 : elements() / shape.back(); }
  int64_t row_length() const { return shape.empty() ? 1 : shape.back(); }
};

std::string shape_string(const Shape& shape);  // "[4096, 11008]"

}  // namespace whale
