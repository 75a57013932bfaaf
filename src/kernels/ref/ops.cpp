// Scalar reference kernels (see ref/ops.h): the plain formulas, accumulated in double.
#include "kernels/ref/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "kernels/ref/quant.h"

namespace whale::ref {

void get_row(const Matrix& w, int64_t r, float* out) {
  WHALE_ASSERT(r >= 0 && r < w.rows);
  if (w.dtype == DType::F8_E4M3 && w.scale_inv != nullptr) {
    const float* scales = w.scale_inv + (r / kFp8BlockSize) * w.scale_cols;
    for (int64_t c = 0; c < w.cols; ++c) out[c] = f8_e4m3_to_f32(w.row(r)[c]) * scales[c / kFp8BlockSize];
    return;
  }
  dequantize_row(w.dtype, w.row(r), out, w.cols);
}

void matmul(const Matrix& w, const float* x, int64_t n, float* y) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    get_row(w, r, row.data());
    for (int64_t t = 0; t < n; ++t) {
      const float* xt = x + t * w.cols;
      double sum = 0.0;
      for (int64_t c = 0; c < w.cols; ++c) sum += static_cast<double>(row[c]) * xt[c];
      y[t * w.rows + r] = static_cast<float>(sum);
    }
  }
}

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(x[i] * inv * weight[i]);
}

void softmax(float* x, int64_t n) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - max);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(std::exp(static_cast<double>(x[i]) - max) / sum);
}

float silu(float x) { return static_cast<float>(x / (1.0 + std::exp(-static_cast<double>(x)))); }

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

void attention(const AttentionShape& s, const float* q, int64_t n_tokens, int64_t start_pos, const float* k,
               const float* v, float scale, float* out) {
  WHALE_ASSERT(s.kv_heads > 0 && s.heads % s.kv_heads == 0);
  const int64_t group = s.heads / s.kv_heads;
  std::vector<double> scores;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t len = start_pos + t + 1;  // causal: keys 0 .. own position
    scores.assign(static_cast<size_t>(len), 0.0);
    for (int64_t h = 0; h < s.heads; ++h) {
      const int64_t g = h / group;
      const float* qh = q + t * s.q_stride + h * s.key_dim;
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t p = 0; p < len; ++p) {
        const float* kp = k + p * s.k_stride + g * s.key_dim;
        double dot = 0.0;
        for (int64_t i = 0; i < s.key_dim; ++i) dot += static_cast<double>(qh[i]) * kp[i];
        scores[p] = dot * scale;
        max = std::max(max, scores[p]);
      }
      double sum = 0.0;
      for (int64_t p = 0; p < len; ++p) sum += scores[p] = std::exp(scores[p] - max);
      float* oh = out + t * s.out_stride + h * s.value_dim;
      for (int64_t i = 0; i < s.value_dim; ++i) {
        double acc = 0.0;
        for (int64_t p = 0; p < len; ++p) acc += scores[p] * v[p * s.v_stride + g * s.value_dim + i];
        oh[i] = static_cast<float>(acc / sum);
      }
    }
  }
}

}  // namespace whale::ref
