// AVX2 + FMA attention tiles (see attention_simd.h), the AVX-512 file's design in 8-float registers: a 3 x 3
// score tile (nine accumulators, so query and key loads each feed three FMAs within the 16 registers) and
// value tiles of four query rows by 16 columns. Tails go through masked loads and smaller tiles. Compiled
// for that target region only (the pragma); nothing from the standard library is called inside it.
#include <immintrin.h>

#include <cstdint>

#include "kernels/attention_simd.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace whale::kernels {
namespace {

constexpr int kScoreTile = 3;  // query rows and keys per score tile
constexpr int kValueRows = 4;  // query rows per value tile
constexpr int kValueVecs = 2;  // 8-float vectors of value columns per value tile

// Lanes [0, n) set, for n in 0..8 (more counts as 8).
inline __m256i tail_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n > 8 ? 8 : n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// [sum(a), sum(b), sum(c), sum(d)].
inline __m128 reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

template <int R, int C>
void scores_tile(const float* const* q, const float* k, int64_t k_stride, int64_t dim, float scale, float* s,
                 int64_t ld) {
  __m256 acc[R][4];  // columns past C stay zero for the reduction
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    #pragma GCC unroll 16
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  const float* qr[R];
  const float* kc[C];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) qr[r] = q[r];
  #pragma GCC unroll 16
  for (int c = 0; c < C; ++c) kc[c] = k + c * k_stride;
  int64_t d = 0;
  for (; d + 8 <= dim; d += 8) {
    __m256 kv[C];
    #pragma GCC unroll 16
    for (int c = 0; c < C; ++c) kv[c] = _mm256_loadu_ps(kc[c] + d);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m256 qv = _mm256_loadu_ps(qr[r] + d);
      #pragma GCC unroll 16
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(qv, kv[c], acc[r][c]);
    }
  }
  if (d < dim) {
    const __m256i m = tail_mask(dim - d);
    __m256 kv[C];
    #pragma GCC unroll 16
    for (int c = 0; c < C; ++c) kv[c] = _mm256_maskload_ps(kc[c] + d, m);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m256 qv = _mm256_maskload_ps(qr[r] + d, m);
      #pragma GCC unroll 16
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(qv, kv[c], acc[r][c]);
    }
  }
  const __m128 scale4 = _mm_set1_ps(scale);
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    alignas(16) float sums[4];
    _mm_store_ps(sums, _mm_mul_ps(reduce4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]), scale4));
    #pragma GCC unroll 16
    for (int c = 0; c < C; ++c) s[r * ld + c] = sums[c];
  }
}

template <int R>
void scores_rows(const float* const* q, const float* k, int64_t k_stride, int64_t keys, int64_t dim, float scale,
                 float* s, int64_t ld) {
  int64_t j = 0;
  for (; j + kScoreTile <= keys; j += kScoreTile) {
    scores_tile<R, kScoreTile>(q, k + j * k_stride, k_stride, dim, scale, s + j, ld);
  }
  switch (keys - j) {
    case 2: scores_tile<R, 2>(q, k + j * k_stride, k_stride, dim, scale, s + j, ld); break;
    case 1: scores_tile<R, 1>(q, k + j * k_stride, k_stride, dim, scale, s + j, ld); break;
    default: break;
  }
}

void scores(const float* const* q, int64_t rows, const float* k, int64_t k_stride, int64_t keys, int64_t dim,
            float scale, float* s, int64_t ld) {
  int64_t i = 0;
  for (; i + kScoreTile <= rows; i += kScoreTile) {
    scores_rows<kScoreTile>(q + i, k, k_stride, keys, dim, scale, s + i * ld, ld);
  }
  switch (rows - i) {
    case 2: scores_rows<2>(q + i, k, k_stride, keys, dim, scale, s + i * ld, ld); break;
    case 1: scores_rows<1>(q + i, k, k_stride, keys, dim, scale, s + i * ld, ld); break;
    default: break;
  }
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
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

float exp_sum(float* x, int64_t n, float max) {
  const __m256 max8 = _mm256_set1_ps(max);
  __m256 sum = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(x + j), max8));
    _mm256_storeu_ps(x + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (j < n) {  // lanes past n compute e^(-max) and are neither stored nor summed
    const __m256i m = tail_mask(n - j);
    const __m256 e = _mm256_and_ps(exp_nonpositive(_mm256_sub_ps(_mm256_maskload_ps(x + j, m), max8)),
                                   _mm256_castsi256_ps(m));
    _mm256_maskstore_ps(x + j, m, e);
    sum = _mm256_add_ps(sum, e);
  }
  return hsum(sum);
}

// Rows o[0..R) at columns [col, col + 8 * V), the last vector masked by `last`.
template <int R, int V>
void accumulate_tile(float* const* o, const float* alpha, const float* p, int64_t ld, const float* v, int64_t v_stride,
                     int64_t keys, int64_t col, __m256i last) {
  const __m256i all = _mm256_set1_epi32(-1);
  __m256 acc[R][V];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const __m256 a = _mm256_set1_ps(alpha[r]);
    #pragma GCC unroll 16
    for (int c = 0; c < V; ++c) {
      acc[r][c] = _mm256_mul_ps(_mm256_maskload_ps(o[r] + col + 8 * c, c == V - 1 ? last : all), a);
    }
  }
  const float* vp = v + col;
  for (int64_t j = 0; j < keys; ++j, vp += v_stride) {
    __m256 vv[V];
    #pragma GCC unroll 16
    for (int c = 0; c < V; ++c) vv[c] = c == V - 1 ? _mm256_maskload_ps(vp + 8 * c, last) : _mm256_loadu_ps(vp + 8 * c);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m256 w = _mm256_broadcast_ss(p + r * ld + j);
      #pragma GCC unroll 16
      for (int c = 0; c < V; ++c) acc[r][c] = _mm256_fmadd_ps(w, vv[c], acc[r][c]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    #pragma GCC unroll 16
    for (int c = 0; c < V; ++c) _mm256_maskstore_ps(o[r] + col + 8 * c, c == V - 1 ? last : all, acc[r][c]);
  }
}

template <int V>
void accumulate_columns(float* const* o, const float* alpha, int64_t rows, const float* p, int64_t ld, const float* v,
                        int64_t v_stride, int64_t keys, int64_t col, __m256i last) {
  int64_t i = 0;
  for (; i + kValueRows <= rows; i += kValueRows) {
    accumulate_tile<kValueRows, V>(o + i, alpha + i, p + i * ld, ld, v, v_stride, keys, col, last);
  }
  switch (rows - i) {
    case 3: accumulate_tile<3, V>(o + i, alpha + i, p + i * ld, ld, v, v_stride, keys, col, last); break;
    case 2: accumulate_tile<2, V>(o + i, alpha + i, p + i * ld, ld, v, v_stride, keys, col, last); break;
    case 1: accumulate_tile<1, V>(o + i, alpha + i, p + i * ld, ld, v, v_stride, keys, col, last); break;
    default: break;
  }
}

void accumulate(float* const* o, const float* alpha, int64_t rows, const float* p, int64_t ld, const float* v,
                int64_t v_stride, int64_t keys, int64_t dim) {
  constexpr int64_t width = 8 * kValueVecs;
  int64_t col = 0;
  for (; col + width <= dim; col += width) {
    accumulate_columns<kValueVecs>(o, alpha, rows, p, ld, v, v_stride, keys, col, tail_mask(8));
  }
  const int64_t rest = dim - col;
  if (rest == 0) return;
  const __m256i last = tail_mask(rest - 8 * ((rest - 1) / 8));
  if (rest > 8) {
    accumulate_columns<2>(o, alpha, rows, p, ld, v, v_stride, keys, col, last);
  } else {
    accumulate_columns<1>(o, alpha, rows, p, ld, v, v_stride, keys, col, last);
  }
}

constexpr AttentionTiles kTiles{scores, exp_sum, accumulate};

}  // namespace

const AttentionTiles& attention_tiles_avx2() { return kTiles; }

}  // namespace whale::kernels

#pragma GCC pop_options
