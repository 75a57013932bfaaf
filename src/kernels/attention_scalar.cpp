// The scalar level's attention tiles (see attention_simd.h): plain loops, the portable path every CPU runs
// and the one tests compare the SIMD tiles' blocking against.
#include <cmath>
#include <cstdint>

#include "kernels/attention_simd.h"

namespace whale::kernels {
namespace {

float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float sum = 0.0f;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (int j = 0; j < 8; ++j) sum += acc[j];
  return sum;
}

void scores(const float* const* q, int64_t rows, const float* k, int64_t k_stride, int64_t keys, int64_t dim,
            float scale, float* s, int64_t ld) {
  for (int64_t j = 0; j < keys; ++j) {
    for (int64_t i = 0; i < rows; ++i) s[i * ld + j] = dot(q[i], k + j * k_stride, dim) * scale;
  }
}

float exp_sum(float* x, int64_t n, float max) {
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) sum += x[j] = std::exp(x[j] - max);
  return sum;
}

void accumulate(float* const* o, const float* alpha, int64_t rows, const float* p, int64_t ld, const float* v,
                int64_t v_stride, int64_t keys, int64_t dim) {
  for (int64_t i = 0; i < rows; ++i) {
    float* oi = o[i];
    for (int64_t c = 0; c < dim; ++c) oi[c] *= alpha[i];
    for (int64_t j = 0; j < keys; ++j) {
      const float w = p[i * ld + j];
      const float* vj = v + j * v_stride;
      for (int64_t c = 0; c < dim; ++c) oi[c] += w * vj[c];
    }
  }
}

constexpr AttentionTiles kTiles{scores, exp_sum, accumulate};

}  // namespace

const AttentionTiles& attention_tiles_scalar() { return kTiles; }

}  // namespace whale::kernels
