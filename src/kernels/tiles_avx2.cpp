// AVX2 + FMA + F16C tile kernels (see tiles.h). Compiled for that target function by function (the pragma
// below), so the rest of the binary stays baseline x86-64; tiles_for() hands them out only when cpuid says
// the CPU has these instructions. Nothing from the standard library is called inside the target region, so
// no inline library code is emitted with AVX2 instructions for baseline callers to pick up.
//
// Integer types dot int8 activations with vpmaddubsw (unsigned x signed bytes -> int16 pairs, which cannot
// saturate for these ranges: at most 2 * 63 * 127 for the K-quants, 2 * 128 * 127 for Q8_0 through the sign
// trick) and vpmaddwd. Each row is read once per group of up to four tokens.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/ref/quant.h"
#include "kernels/tiles.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace whale::kernels {
namespace {

constexpr int kTokenGroup = 4;

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float half(uint16_t h) { return _cvtsh_ss(h); }

inline __m256i ones16() { return _mm256_set1_epi16(1); }

// Calls body.template operator()<T>(t) for token groups of four and the remainder.
template <typename Body>
void token_groups(int64_t t0, int64_t t1, Body&& body) {
  int64_t t = t0;
  for (; t + kTokenGroup <= t1; t += kTokenGroup) body.template operator()<kTokenGroup>(t);
  switch (t1 - t) {
    case 3: body.template operator()<3>(t); break;
    case 2: body.template operator()<2>(t); break;
    case 1: body.template operator()<1>(t); break;
    default: break;
  }
}

void q8_0(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
          int64_t ldy) {
  const int64_t blocks = a.blocks();
  token_groups(t0, t1, [&]<int T>(int64_t t) {
    for (int64_t r = r0; r < r1; ++r) {
      const auto* wb = reinterpret_cast<const BlockQ8_0*>(w.row(r));
      __m256 acc[T];
      for (int k = 0; k < T; ++k) acc[k] = _mm256_setzero_ps();
      for (int64_t b = 0; b < blocks; ++b) {
        const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[b].qs));
        const __m256i aw = _mm256_sign_epi8(wq, wq);
        const float dw = half(wb[b].d);
#pragma GCC unroll 4
        for (int k = 0; k < T; ++k) {
          const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + (t + k) * a.cols + b * 32));
          const __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(xq, wq));
          const __m256 s = _mm256_set1_ps(dw * a.d[(t + k) * blocks + b]);
          acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones16())), s, acc[k]);
        }
      }
      for (int k = 0; k < T; ++k) y[(t + k) * ldy + r] = hsum(acc[k]);
    }
  });
}

void q4_0(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
          int64_t ldy) {
  // Nibbles q in [0, 15] are the unsigned operand; the -8 offset comes back as -8 * sum(x) per block.
  const int64_t blocks = a.blocks();
  const __m256i low_mask = _mm256_set1_epi8(0x0f);
  token_groups(t0, t1, [&]<int T>(int64_t t) {
    for (int64_t r = r0; r < r1; ++r) {
      const auto* wb = reinterpret_cast<const BlockQ4_0*>(w.row(r));
      __m256 acc[T];
      float offset[T];
      for (int k = 0; k < T; ++k) {
        acc[k] = _mm256_setzero_ps();
        offset[k] = 0.0f;
      }
      for (int64_t b = 0; b < blocks; ++b) {
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wb[b].qs));
        const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
        const __m256i q = _mm256_and_si256(both, low_mask);
        const float dw = half(wb[b].d);
#pragma GCC unroll 4
        for (int k = 0; k < T; ++k) {
          const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + (t + k) * a.cols + b * 32));
          const float s = dw * a.d[(t + k) * blocks + b];
          const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(q, xq), ones16());
          acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(s), acc[k]);
          offset[k] += s * static_cast<float>(a.sums[(t + k) * blocks + b]);
        }
      }
      for (int k = 0; k < T; ++k) y[(t + k) * ldy + r] = hsum(acc[k]) - 8.0f * offset[k];
    }
  });
}

// One K-quant super-block unpacked for dotting against several tokens: quants as unsigned bytes in element
// order, the int16 multiplier of each maddubs lane per 32 elements, and (Q4_K/Q5_K) the mins per 16-sum.
struct Unpacked {
  alignas(32) uint8_t q[256];
  alignas(32) int16_t lane_scale[8][16];  // lane k of group g multiplies elements 32g + 2k, 2k + 1
  alignas(32) int16_t bsum_weight[16];    // Q4/5_K: m_j for 16-sums 2j, 2j+1; Q6_K: 32 * scale
  float d = 0.0f;
  float dmin = 0.0f;
};

template <typename Block>
void unpack_scales_mins(const Block& blk, Unpacked& u) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    ref::k_quant_scale_min(blk.scales, j, &sc, &m);
    for (int k = 0; k < 16; ++k) u.lane_scale[j][k] = sc;
    u.bsum_weight[2 * j] = m;
    u.bsum_weight[2 * j + 1] = m;
  }
  u.d = half(blk.d);
  u.dmin = half(blk.dmin);
}

void unpack(const BlockQ4_K& blk, Unpacked& u) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  for (int c = 0; c < 4; ++c) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs + 32 * c));
    _mm256_store_si256(reinterpret_cast<__m256i*>(u.q + 64 * c), _mm256_and_si256(v, mask));
    _mm256_store_si256(reinterpret_cast<__m256i*>(u.q + 64 * c + 32), _mm256_and_si256(_mm256_srli_epi16(v, 4), mask));
  }
  unpack_scales_mins(blk, u);
}

void unpack(const BlockQ5_K& blk, Unpacked& u) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  const __m256i one = _mm256_set1_epi8(1);
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh));
  for (int c = 0; c < 4; ++c) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs + 32 * c));
    // Bit j of qh[l] is the fifth bit of element 32 j + l; shifting 16-bit lanes right then masking each
    // byte with 1 keeps exactly that bit.
    const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * c), one), 4);
    const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * c + 1), one), 4);
    _mm256_store_si256(reinterpret_cast<__m256i*>(u.q + 64 * c), _mm256_or_si256(_mm256_and_si256(v, mask), h0));
    _mm256_store_si256(reinterpret_cast<__m256i*>(u.q + 64 * c + 32),
                       _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), mask), h1));
  }
  unpack_scales_mins(blk, u);
}

void unpack(const BlockQ6_K& blk, Unpacked& u) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  const __m256i high = _mm256_set1_epi8(0x30);
  for (int hf = 0; hf < 2; ++hf) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * hf));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * hf + 32));
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * hf));
    uint8_t* q = u.q + 128 * hf;
    _mm256_store_si256(reinterpret_cast<__m256i*>(q),
                       _mm256_or_si256(_mm256_and_si256(a, mask), _mm256_and_si256(_mm256_slli_epi16(h, 4), high)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(q + 32),
                       _mm256_or_si256(_mm256_and_si256(b, mask), _mm256_and_si256(_mm256_slli_epi16(h, 2), high)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(q + 64),
                       _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), mask), _mm256_and_si256(h, high)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(q + 96),
                       _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), mask),
                                       _mm256_and_si256(_mm256_srli_epi16(h, 2), high)));
  }
  for (int g = 0; g < 8; ++g) {
    for (int k = 0; k < 16; ++k) u.lane_scale[g][k] = blk.scales[2 * g + k / 8];
  }
  for (int j = 0; j < 16; ++j) u.bsum_weight[j] = static_cast<int16_t>(32 * blk.scales[j]);
  u.d = half(blk.d);
  u.dmin = 0.0f;
}

// The quants of group g (32 elements) of a super-block as unsigned bytes and the int16 multiplier of each
// vpmaddubsw lane, computed in registers from the packed bits (decode reads every super-block once per
// token, so nothing is staged in memory). Q4_K / Q5_K: one scale per group; Q6_K: one per 16 elements.
struct Q4KGroups {
  const BlockQ4_K& blk;
  const uint8_t* sc;
  __m256i quants(int g) const {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs + 32 * (g / 2)));
    return _mm256_and_si256(g % 2 == 0 ? v : _mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f));
  }
  __m256i scales(int g) const { return _mm256_set1_epi16(sc[g]); }
};

struct Q5KGroups {
  const BlockQ5_K& blk;
  const uint8_t* sc;
  __m256i quants(int g) const {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs + 32 * (g / 2)));
    const __m256i low = _mm256_and_si256(g % 2 == 0 ? v : _mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f));
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh));
    const __m256i bit = _mm256_and_si256(_mm256_srl_epi16(h, _mm_cvtsi32_si128(g)), _mm256_set1_epi8(1));
    return _mm256_or_si256(low, _mm256_slli_epi16(bit, 4));
  }
  __m256i scales(int g) const { return _mm256_set1_epi16(sc[g]); }
};

struct Q6KGroups {
  const BlockQ6_K& blk;
  __m256i quants(int g) const {
    const int hf = g / 4, k = g % 4;
    const __m256i src = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * hf + 32 * (k & 1)));
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * hf));
    const __m256i low = _mm256_and_si256(k < 2 ? src : _mm256_srli_epi16(src, 4), _mm256_set1_epi8(0x0f));
    // Bits 2k, 2k + 1 of qh move to bits 4, 5.
    __m256i high;
    switch (k) {
      case 0: high = _mm256_slli_epi16(h, 4); break;
      case 1: high = _mm256_slli_epi16(h, 2); break;
      case 2: high = h; break;
      default: high = _mm256_srli_epi16(h, 2); break;
    }
    return _mm256_or_si256(low, _mm256_and_si256(high, _mm256_set1_epi8(0x30)));
  }
  __m256i scales(int g) const {
    return _mm256_set_m128i(_mm_set1_epi16(blk.scales[2 * g + 1]), _mm_set1_epi16(blk.scales[2 * g]));
  }
};

// Q6_K stores q + 32, so its offset is subtracted (weight 32 * scale per 16-sum) with the same float scale;
// Q4_K / Q5_K subtract dmin * m_j * sum(x) with the separate scale dmin.
template <typename Block>
void k_quant(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
             int64_t ldy) {
  constexpr bool kSeparateMin = !std::is_same_v<Block, BlockQ6_K>;
  const int64_t sblocks = a.super_blocks();
  const int64_t bsum_stride = a.cols / 16;
  token_groups(t0, t1, [&]<int T>(int64_t t) {
    for (int64_t r = r0; r < r1; ++r) {
      const auto* wb = reinterpret_cast<const Block*>(w.row(r));
      __m256 acc[T];
      for (int k = 0; k < T; ++k) acc[k] = _mm256_setzero_ps();
      for (int64_t b = 0; b < sblocks; ++b) {
        const Block& blk = wb[b];
        alignas(16) uint8_t sc[16];
        float d, dmin = 0.0f;
        __m256i bw;  // the int16 weight of each 16-sum of x: m_j twice (Q4/5_K), 32 * scale (Q6_K)
        if constexpr (kSeparateMin) {
          // All eight 6-bit scales and mins at once, four bytes per 32-bit word (layout: k_quant_scale_min).
          uint32_t w32[3];
          std::memcpy(w32, blk.scales, 12);
          const uint32_t sc_lo = w32[0] & 0x3f3f3f3fu;
          const uint32_t m_lo = w32[1] & 0x3f3f3f3fu;
          const uint32_t sc_hi = (w32[2] & 0x0f0f0f0fu) | (((w32[0] >> 6) & 0x03030303u) << 4);
          const uint32_t m_hi = ((w32[2] >> 4) & 0x0f0f0f0fu) | (((w32[1] >> 6) & 0x03030303u) << 4);
          std::memcpy(sc, &sc_lo, 4);
          std::memcpy(sc + 4, &sc_hi, 4);
          const __m128i mins = _mm_set_epi32(0, 0, static_cast<int>(m_hi), static_cast<int>(m_lo));
          bw = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mins, mins));
          d = half(blk.d);
          dmin = half(blk.dmin);
        } else {
          const __m128i s8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales));
          bw = _mm256_slli_epi16(_mm256_cvtepi8_epi16(s8), 5);
          d = half(blk.d);
        }
        __m256i dot[T];
        for (int k = 0; k < T; ++k) dot[k] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
          __m256i q, scale;
          if constexpr (std::is_same_v<Block, BlockQ4_K>) {
            const Q4KGroups groups{blk, sc};
            q = groups.quants(g);
            scale = groups.scales(g);
          } else if constexpr (std::is_same_v<Block, BlockQ5_K>) {
            const Q5KGroups groups{blk, sc};
            q = groups.quants(g);
            scale = groups.scales(g);
          } else {
            const Q6KGroups groups{blk};
            q = groups.quants(g);
            scale = groups.scales(g);
          }
#pragma GCC unroll 4
          for (int k = 0; k < T; ++k) {
            const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + (t + k) * a.cols + b * 256 + 32 * g));
            dot[k] = _mm256_add_epi32(dot[k], _mm256_madd_epi16(_mm256_maddubs_epi16(q, xv), scale));
          }
        }
#pragma GCC unroll 4
        for (int k = 0; k < T; ++k) {
          const int64_t tok = t + k;
          const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums + tok * bsum_stride + b * 16));
          const __m256i offset = _mm256_madd_epi16(bs, bw);
          const float xd = a.d[tok * sblocks + b];
          if constexpr (kSeparateMin) {
            acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[k]), _mm256_set1_ps(d * xd), acc[k]);
            acc[k] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(offset), _mm256_set1_ps(dmin * xd), acc[k]);
          } else {
            acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(dot[k], offset)), _mm256_set1_ps(d * xd),
                                     acc[k]);
          }
        }
      }
      for (int k = 0; k < T; ++k) y[(t + k) * ldy + r] = hsum(acc[k]);
    }
  });
}

// Float weights: Load::row8(row, c) converts the 8 weights at column c to floats, Load::one(row, c) one (the
// tail). Structs rather than lambdas: a lambda's function-pointer thunk would not get this file's target.
template <typename Load>
void float_tiles(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
                 int64_t ldy) {
  const int64_t cols = a.cols;
  const int64_t vec_cols = cols / 8 * 8;
  token_groups(t0, t1, [&]<int T>(int64_t t) {
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = w.row(r);
      __m256 acc[T];
      for (int k = 0; k < T; ++k) acc[k] = _mm256_setzero_ps();
      for (int64_t c = 0; c < vec_cols; c += 8) {
        const __m256 wv = Load::row8(row, c);
#pragma GCC unroll 4
        for (int k = 0; k < T; ++k) acc[k] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(a.x + (t + k) * cols + c), acc[k]);
      }
      for (int k = 0; k < T; ++k) {
        float sum = hsum(acc[k]);
        for (int64_t c = vec_cols; c < cols; ++c) sum += Load::one(row, c) * a.x[(t + k) * cols + c];
        y[(t + k) * ldy + r] = sum;
      }
    }
  });
}

struct LoadF32 {
  static __m256 row8(const uint8_t* row, int64_t c) { return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + c); }
  static float one(const uint8_t* row, int64_t c) { return reinterpret_cast<const float*>(row)[c]; }
};

struct LoadF16 {
  static __m256 row8(const uint8_t* row, int64_t c) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c)));
  }
  static float one(const uint8_t* row, int64_t c) { return half(reinterpret_cast<const uint16_t*>(row)[c]); }
};

struct LoadBf16 {
  static __m256 row8(const uint8_t* row, int64_t c) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
  static float one(const uint8_t* row, int64_t c) {
    const uint32_t bits = static_cast<uint32_t>(reinterpret_cast<const uint16_t*>(row)[c]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
};

// e4m3 -> f16 by moving its exponent and mantissa bits into place: the f16 then reads 2^-8 times the e4m3
// value (bias 15 instead of 7), subnormals included; the 256 goes into the block scale.
inline __m256 f8x8(const uint8_t* p) {
  const __m128i v = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  const __m128i h = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(v, _mm_set1_epi16(0x7f)), 7),
                                 _mm_slli_epi16(_mm_and_si128(v, _mm_set1_epi16(0x80)), 8));
  return _mm256_cvtph_ps(h);
}

// The same for 32 bytes in fewer instructions (decode is bound by this conversion, not by memory): each byte
// goes to the high half of a 16-bit word (unpack with zero), an arithmetic shift by one puts exponent and
// mantissa where f16 has them and keeps the sign in bit 15, and clearing bit 14 (the sign's copy) finishes
// the f16. The qword permute first makes the in-lane unpacks produce words in element order.
inline void f8x32(const uint8_t* p, __m256 (&out)[4]) {
  const __m256i v = _mm256_permute4x64_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), 0xd8);
  const __m256i zero = _mm256_setzero_si256();
  const __m256i keep = _mm256_set1_epi16(static_cast<int16_t>(0xbfff));
  const __m256i lo = _mm256_and_si256(_mm256_srai_epi16(_mm256_unpacklo_epi8(zero, v), 1), keep);  // bytes 0-15
  const __m256i hi = _mm256_and_si256(_mm256_srai_epi16(_mm256_unpackhi_epi8(zero, v), 1), keep);  // 16-31
  out[0] = _mm256_cvtph_ps(_mm256_castsi256_si128(lo));
  out[1] = _mm256_cvtph_ps(_mm256_extracti128_si256(lo, 1));
  out[2] = _mm256_cvtph_ps(_mm256_castsi256_si128(hi));
  out[3] = _mm256_cvtph_ps(_mm256_extracti128_si256(hi, 1));
}

void f8(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
        int64_t ldy) {
  const int64_t cols = a.cols;
  constexpr int64_t kBlock = ref::kFp8BlockSize;
  if (cols % 8 != 0) return scalar_tiles().f8(w, r0, r1, a, t0, t1, y, ldy);
  token_groups(t0, t1, [&]<int T>(int64_t t) {
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = w.row(r);
      const float* scales = w.scale_inv != nullptr ? w.scale_inv + (r / kBlock) * w.scale_cols : nullptr;
      __m256 acc[T];
      for (int k = 0; k < T; ++k) acc[k] = _mm256_setzero_ps();
      for (int64_t c0 = 0; c0 < cols; c0 += kBlock) {
        const int64_t c1 = c0 + kBlock < cols ? c0 + kBlock : cols;
        // Two partial sums a token: one FMA chain would leave decode waiting on its latency.
        __m256 part[2][T];
        for (int k = 0; k < T; ++k) part[0][k] = part[1][k] = _mm256_setzero_ps();
        int64_t c = c0;
        for (; c + 32 <= c1; c += 32) {
          // A page ahead: the hardware prefetchers stop at 4 KiB page boundaries, and weights mapped from a
          // safetensors file come in 4 KiB pages (measured on a V3-shaped FP8 head: ~4.0 -> ~5.6 GB/s a thread).
          // The rows of a tile are contiguous, so reading past a row's end reads the next; prefetches never fault.
          _mm_prefetch(reinterpret_cast<const char*>(row + c) + 4096, _MM_HINT_T0);
          __m256 wv[4];
          f8x32(row + c, wv);
#pragma GCC unroll 4
          for (int k = 0; k < T; ++k) {
            const float* x = a.x + (t + k) * cols + c;
            part[0][k] = _mm256_fmadd_ps(wv[0], _mm256_loadu_ps(x), part[0][k]);
            part[1][k] = _mm256_fmadd_ps(wv[1], _mm256_loadu_ps(x + 8), part[1][k]);
            part[0][k] = _mm256_fmadd_ps(wv[2], _mm256_loadu_ps(x + 16), part[0][k]);
            part[1][k] = _mm256_fmadd_ps(wv[3], _mm256_loadu_ps(x + 24), part[1][k]);
          }
        }
        for (; c < c1; c += 8) {
          const __m256 wv = f8x8(row + c);
#pragma GCC unroll 4
          for (int k = 0; k < T; ++k) part[0][k] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(a.x + (t + k) * cols + c), part[0][k]);
        }
        const __m256 s = _mm256_set1_ps(256.0f * (scales != nullptr ? scales[c0 / kBlock] : 1.0f));
        for (int k = 0; k < T; ++k) acc[k] = _mm256_fmadd_ps(_mm256_add_ps(part[0][k], part[1][k]), s, acc[k]);
      }
      for (int k = 0; k < T; ++k) y[(t + k) * ldy + r] = hsum(acc[k]);
    }
  });
}

}  // namespace

int unpack_k_block(DType type, const uint8_t* block, uint8_t* q, float* scale, float* min) {
  Unpacked u;
  if (type == DType::Q6_K) {
    const auto& blk = *reinterpret_cast<const BlockQ6_K*>(block);
    unpack(blk, u);
    for (int j = 0; j < 16; ++j) {
      scale[j] = u.d * static_cast<float>(blk.scales[j]);
      min[j] = 32.0f * scale[j];
    }
  } else {
    if (type == DType::Q4_K) {
      unpack(*reinterpret_cast<const BlockQ4_K*>(block), u);
    } else {
      unpack(*reinterpret_cast<const BlockQ5_K*>(block), u);
    }
    for (int j = 0; j < 8; ++j) {
      scale[j] = u.d * static_cast<float>(u.lane_scale[j][0]);
      min[j] = u.dmin * static_cast<float>(u.bsum_weight[2 * j]);
    }
  }
  __builtin_memcpy(q, u.q, 256);
  return type == DType::Q6_K ? 16 : 32;
}

const TileTable& avx2_tiles() {
  static const TileTable table{q8_0,
                               q4_0,
                               k_quant<BlockQ4_K>,
                               k_quant<BlockQ5_K>,
                               k_quant<BlockQ6_K>,
                               float_tiles<LoadF32>,
                               float_tiles<LoadF16>,
                               float_tiles<LoadBf16>,
                               f8};
  return table;
}

}  // namespace whale::kernels

#pragma GCC pop_options
