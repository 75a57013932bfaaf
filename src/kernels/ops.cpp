// Element-wise kernels and attention (see ops.h). Written as plain loops the compiler vectorizes; attention is
// parallel over (token, head) pairs, each with its own slice of the caller's scratch for the scores, and
// runs its per-head loop in AVX2 (attention_avx2.cpp) unless the scalar ISA level is forced.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "kernels/attention_simd.h"
#include "kernels/isa.h"
#include "kernels/ops.h"

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

}  // namespace

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * inv * weight[i];
}

void softmax(float* x, int64_t n) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

size_t attention_scratch_floats(int64_t context, const ThreadPool& pool) {
  return static_cast<size_t>(context) * static_cast<size_t>(pool.size());
}

void attention(const AttentionShape& s, const float* q, int64_t n_tokens, int64_t start_pos, const float* k,
               const float* v, float scale, float* out, float* scratch, ThreadPool& pool) {
  WHALE_ASSERT(s.kv_heads > 0 && s.heads % s.kv_heads == 0);
  const int64_t group = s.heads / s.kv_heads;
  const int64_t context = start_pos + n_tokens;
  const bool simd = active_isa() != Isa::Scalar;
  pool.parallel_for(0, n_tokens * s.heads, 1, [&](int64_t lo, int64_t hi, int thread) {
    float* scores = scratch + static_cast<size_t>(thread) * static_cast<size_t>(context);
    for (int64_t job = lo; job < hi; ++job) {
      const int64_t t = job / s.heads;
      const int64_t h = job % s.heads;
      const int64_t g = h / group;
      const int64_t len = start_pos + t + 1;  // causal: keys 0 .. own position
      const float* qh = q + t * s.q_stride + h * s.key_dim;
      const float* kg = k + g * s.key_dim;
      if (simd) {
        attention_head_avx2(qh, kg, s.k_stride, v + g * s.value_dim, s.v_stride, len, s.key_dim, s.value_dim, scale,
                            scores, out + t * s.out_stride + h * s.value_dim);
        continue;
      }
      for (int64_t p = 0; p < len; ++p) scores[p] = dot(qh, kg + p * s.k_stride, s.key_dim) * scale;
      softmax(scores, len);
      float* oh = out + t * s.out_stride + h * s.value_dim;
      std::fill(oh, oh + s.value_dim, 0.0f);
      const float* vg = v + g * s.value_dim;
      for (int64_t p = 0; p < len; ++p) {
        const float w = scores[p];
        const float* vp = vg + p * s.v_stride;
        for (int64_t i = 0; i < s.value_dim; ++i) oh[i] += w * vp[i];
      }
    }
  });
}

}  // namespace whale::kernels
