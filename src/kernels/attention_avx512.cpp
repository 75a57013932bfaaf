// AVX-512 attention tiles (see attention_simd.h). Scores: a 4 x 4 tile of (query row, key) dot products in
// sixteen accumulators, so each 16-float load of a query or key feeds four FMAs; the tile's sums are reduced
// together. Values: four query rows by 64 value columns in sixteen accumulators, one value load feeding four
// FMAs with the weights broadcast; the 64 columns of the key block's values stay in L1 while every row group
// passes over them. Tails (dims, rows, keys) go through the same code with masks and smaller tiles. Compiled
// for that target region only (the pragma); nothing from the standard library is called inside it.
#include <immintrin.h>

#include <cstdint>

#include "kernels/attention_simd.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f")
// GCC 12 reports the deliberately undefined upper halves inside its own AVX-512 intrinsics as uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace whale::kernels {
namespace {

constexpr int kTile = 4;       // query rows (and keys) per score tile; query rows per value tile
constexpr int kValueVecs = 4;  // 16-float vectors of value columns per value tile

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u); }

inline __m256 fold(__m512 x) {
  return _mm256_add_ps(_mm512_castps512_ps256(x), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
}

// [sum(a), sum(b), sum(c), sum(d)].
inline __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m256 ab = _mm256_hadd_ps(fold(a), fold(b));
  const __m256 cd = _mm256_hadd_ps(fold(c), fold(d));
  const __m256 abcd = _mm256_hadd_ps(ab, cd);
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

template <int R, int C>
void scores_tile(const float* const* q, const float* k, int64_t k_stride, int64_t dim, float scale, float* s,
                 int64_t ld) {
  __m512 acc[R][kTile];  // columns past C stay zero for the reduction
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    #pragma GCC unroll 16
    for (int c = 0; c < kTile; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  const float* qr[R];
  const float* kc[C];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) qr[r] = q[r];
  #pragma GCC unroll 16
  for (int c = 0; c < C; ++c) kc[c] = k + c * k_stride;
  int64_t d = 0;
  for (; d + 16 <= dim; d += 16) {
    __m512 kv[C];
    #pragma GCC unroll 16
    for (int c = 0; c < C; ++c) kv[c] = _mm512_loadu_ps(kc[c] + d);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 qv = _mm512_loadu_ps(qr[r] + d);
      #pragma GCC unroll 16
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(qv, kv[c], acc[r][c]);
    }
  }
  if (d < dim) {
    const __mmask16 m = tail_mask(dim - d);
    __m512 kv[C];
    #pragma GCC unroll 16
    for (int c = 0; c < C; ++c) kv[c] = _mm512_maskz_loadu_ps(m, kc[c] + d);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 qv = _mm512_maskz_loadu_ps(m, qr[r] + d);
      #pragma GCC unroll 16
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(qv, kv[c], acc[r][c]);
    }
  }
  const __m128 scale4 = _mm_set1_ps(scale);
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const __m128 sums = _mm_mul_ps(reduce4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]), scale4);
    if constexpr (C == 4) {
      _mm_storeu_ps(s + r * ld, sums);
    } else {
      alignas(16) float tmp[4];
      _mm_store_ps(tmp, sums);
      #pragma GCC unroll 16
      for (int c = 0; c < C; ++c) s[r * ld + c] = tmp[c];
    }
  }
}

template <int R>
void scores_rows(const float* const* q, const float* k, int64_t k_stride, int64_t keys, int64_t dim, float scale,
                 float* s, int64_t ld) {
  int64_t j = 0;
  for (; j + kTile <= keys; j += kTile) scores_tile<R, kTile>(q, k + j * k_stride, k_stride, dim, scale, s + j, ld);
  switch (keys - j) {
    case 3: scores_tile<R, 3>(q, k + j * k_stride, k_stride, dim, scale, s + j, ld); break;
    case 2: scores_tile<R, 2>(q, k + j * k_stride, k_stride, dim, scale, s + j, ld); break;
    case 1: scores_tile<R, 1>(q, k + j * k_stride, k_stride, dim, scale, s + j, ld); break;
    default: break;
  }
}

void scores(const float* const* q, int64_t rows, const float* k, int64_t k_stride, int64_t keys, int64_t dim,
            float scale, float* s, int64_t ld) {
  int64_t i = 0;
  for (; i + kTile <= rows; i += kTile) scores_rows<kTile>(q + i, k, k_stride, keys, dim, scale, s + i * ld, ld);
  switch (rows - i) {
    case 3: scores_rows<3>(q + i, k, k_stride, keys, dim, scale, s + i * ld, ld); break;
    case 2: scores_rows<2>(q + i, k, k_stride, keys, dim, scale, s + i * ld, ld); break;
    case 1: scores_rows<1>(q + i, k, k_stride, keys, dim, scale, s + i * ld, ld); break;
    default: break;
  }
}

// e^x for x <= 0 (softmax arguments after subtracting the max): x = n ln2 + f with |f| <= ln2 / 2, e^f by a
// degree-6 Taylor polynomial (relative error < 2e-7 there), times 2^n built in the exponent bits. Below
// -87 the result flushes to 0, as e^x underflows float there anyway.
inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln2 split in a part exact in float and a remainder, so f keeps its low bits.
  __m512 f = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  f = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-6f), f);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

float exp_sum(float* x, int64_t n, float max) {
  const __m512 max16 = _mm512_set1_ps(max);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), max16));
    _mm512_mask_storeu_ps(x + j, m, e);
    sum = _mm512_mask_add_ps(sum, m, sum, e);
  }
  return _mm512_reduce_add_ps(sum);
}

// Rows o[0..R) at columns [col, col + 16 * V), the last vector masked by `last`.
template <int R, int V>
void accumulate_tile(float* const* o, const float* alpha, const float* p, int64_t ld, const float* v, int64_t v_stride,
                     int64_t keys, int64_t col, __mmask16 last) {
  __m512 acc[R][V];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const __m512 a = _mm512_set1_ps(alpha[r]);
    #pragma GCC unroll 16
    for (int c = 0; c < V; ++c) {
      const __mmask16 m = c == V - 1 ? last : __mmask16(0xFFFF);
      acc[r][c] = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, o[r] + col + 16 * c), a);
    }
  }
  const float* vp = v + col;
  for (int64_t j = 0; j < keys; ++j, vp += v_stride) {
    __m512 vv[V];
    #pragma GCC unroll 16
    for (int c = 0; c < V; ++c) {
      vv[c] = c == V - 1 ? _mm512_maskz_loadu_ps(last, vp + 16 * c) : _mm512_loadu_ps(vp + 16 * c);
    }
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 w = _mm512_set1_ps(p[r * ld + j]);
      #pragma GCC unroll 16
      for (int c = 0; c < V; ++c) acc[r][c] = _mm512_fmadd_ps(w, vv[c], acc[r][c]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    #pragma GCC unroll 16
    for (int c = 0; c < V; ++c) {
      _mm512_mask_storeu_ps(o[r] + col + 16 * c, c == V - 1 ? last : __mmask16(0xFFFF), acc[r][c]);
    }
  }
}

template <int V>
void accumulate_columns(float* const* o, const float* alpha, int64_t rows, const float* p, int64_t ld, const float* v,
                        int64_t v_stride, int64_t keys, int64_t col, __mmask16 last) {
  int64_t i = 0;
  for (; i + kTile <= rows; i += kTile) {
    accumulate_tile<kTile, V>(o + i, alpha + i, p + i * ld, ld, v, v_stride, keys, col, last);
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
  constexpr int64_t width = 16 * kValueVecs;
  int64_t col = 0;
  for (; col + width <= dim; col += width) {
    accumulate_columns<kValueVecs>(o, alpha, rows, p, ld, v, v_stride, keys, col, 0xFFFF);
  }
  const int64_t rest = dim - col;
  if (rest == 0) return;
  const __mmask16 last = tail_mask(rest - 16 * ((rest - 1) / 16));
  switch ((rest + 15) / 16) {
    case 4: accumulate_columns<4>(o, alpha, rows, p, ld, v, v_stride, keys, col, last); break;
    case 3: accumulate_columns<3>(o, alpha, rows, p, ld, v, v_stride, keys, col, last); break;
    case 2: accumulate_columns<2>(o, alpha, rows, p, ld, v, v_stride, keys, col, last); break;
    default: accumulate_columns<1>(o, alpha, rows, p, ld, v, v_stride, keys, col, last); break;
  }
}

constexpr AttentionTiles kTiles{scores, exp_sum, accumulate};

}  // namespace

const AttentionTiles& attention_tiles_avx512() { return kTiles; }

}  // namespace whale::kernels

#pragma GCC diagnostic pop
#pragma GCC pop_options
