// AVX2 + FMA inner loop of attention (see ops.h): one query head against `len` cached positions: scores,
// softmax with a vectorized exp, and the weighted sum of values. Compiled for that target only (the pragma);
// ops.cpp calls it when active_isa() is at least Avx2.
#include <immintrin.h>

#include <cstdint>

#include "kernels/attention_simd.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace whale::kernels {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float dot(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float sum = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// e^x for x <= 0 (softmax arguments after subtracting the max): x = n ln2 + f with |f| <= ln2 / 2, e^f by a
// degree-6 Taylor polynomial (relative error < 2e-7 there), times 2^n built in the exponent bits. Below
// -87 the result flushes to 0, as e^x underflows float there anyway.
inline __m256 exp_nonpositive(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln2 split in a part exact in float and a remainder, so f keeps its low bits.
  __m256 f = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  f = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-6f), f);
  __m256 p = _mm256_set1_ps(1.0f / 720.0f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

}  // namespace

void attention_head_avx2(const float* q, const float* k, int64_t k_stride, const float* v, int64_t v_stride,
                         int64_t len, int64_t key_dim, int64_t value_dim, float scale, float* scores, float* out) {
  float max = -3.0e38f;
  for (int64_t p = 0; p < len; ++p) {
    scores[p] = dot(q, k + p * k_stride, key_dim) * scale;
    max = scores[p] > max ? scores[p] : max;
  }
  __m256 sum8 = _mm256_setzero_ps();
  const __m256 max8 = _mm256_set1_ps(max);
  int64_t p = 0;
  for (; p + 8 <= len; p += 8) {
    const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(scores + p), max8));
    _mm256_storeu_ps(scores + p, e);
    sum8 = _mm256_add_ps(sum8, e);
  }
  float sum = hsum(sum8);
  if (p < len) {  // the tail through a masked copy, so the same exp is used for every position
    alignas(32) float tail[8];
    for (int i = 0; i < 8; ++i) tail[i] = p + i < len ? scores[p + i] - max : -100.0f;
    _mm256_store_ps(tail, exp_nonpositive(_mm256_load_ps(tail)));
    for (int64_t i = 0; p + i < len; ++i) {
      scores[p + i] = tail[i];
      sum += tail[i];
    }
  }
  const float inv = 1.0f / sum;
  int64_t i = 0;
  for (; i + 32 <= value_dim; i += 32) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t pos = 0; pos < len; ++pos) {
      const __m256 w = _mm256_set1_ps(scores[pos]);
      const float* vp = v + pos * v_stride + i;
      for (int j = 0; j < 4; ++j) acc[j] = _mm256_fmadd_ps(w, _mm256_loadu_ps(vp + 8 * j), acc[j]);
    }
    for (int j = 0; j < 4; ++j) _mm256_storeu_ps(out + i + 8 * j, _mm256_mul_ps(acc[j], _mm256_set1_ps(inv)));
  }
  for (; i < value_dim; ++i) {
    float acc = 0.0f;
    for (int64_t pos = 0; pos < len; ++pos) acc += scores[pos] * v[pos * v_stride + i];
    out[i] = acc * inv;
  }
}

}  // namespace whale::kernels

#pragma GCC pop_options
