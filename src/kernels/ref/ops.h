// Scalar reference kernels: the spec that the fast kernels in kernels/ops.h are tested against. Written for
// clarity, accumulating in double; no threads, no tricks.
#pragma once

#include <cstdint>

#include "kernels/attention_shape.h"
#include "kernels/matrix.h"

namespace whale::ref {

// y[t, r] = sum_c W[r, c] * x[t, c] for t < n, dequantizing each row of W with dequantize_row (F8 with its
// block scales). x: [n, w.cols]; y: [n, w.rows].
void matmul(const Matrix& w, const float* x, int64_t n, float* y);
// Row r of W as floats (cols values): an embedding lookup.
void get_row(const Matrix& w, int64_t r, float* out);

// out = x / sqrt(mean(x^2) + eps) * weight, n values. out may alias x.
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);
// In place: x = exp(x - max) / sum.
void softmax(float* x, int64_t n);
// silu(x) = x / (1 + exp(-x)).
float silu(float x);
// out[i] = silu(gate[i]) * up[i]. out may alias gate or up.
void swiglu(const float* gate, const float* up, int64_t n, float* out);

// Causal attention for n_tokens queries at positions start_pos .. start_pos + n_tokens - 1 against keys and
// values at positions 0 .. start_pos + n_tokens - 1 (see AttentionShape for layouts). Query head h reads kv
// head h / (heads / kv_heads). out: [n_tokens, out_stride], head h's value_dim outputs at h * value_dim.
void attention(const AttentionShape& shape, const float* q, int64_t n_tokens, int64_t start_pos,
               const float* k, const float* v, float scale, float* out);

}  // namespace whale::ref
