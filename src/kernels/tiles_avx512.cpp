// AVX-512 tile kernels (see tiles.h): Q8_0 and the K-quants through VNNI (vpdpbusd, vpdpwssd), BF16 through
// vdpbf16ps where the CPU has AVX512_BF16; the other types use the AVX2 kernels, which already run these CPUs'
// 256-bit data paths at full rate. Compiled with per-region target options (baseline binary).
//
// Q8_0: vpdpbusd multiplies unsigned by signed bytes, so weights are offset by +128 (a byte xor 0x80) and the
// sum accumulates from -128 * sum(x) per block (prepared once per call, act.h): exact in int32. A tile
// keeps four rows of weights in registers and streams up to four tokens past them.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>

#include "kernels/tiles.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
// GCC 12 reports the deliberately undefined upper halves inside its own AVX-512 intrinsics (casts,
// reductions) as uninitialized; the values are never read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace whale::kernels {
namespace {

inline float half(uint16_t h) { return _cvtsh_ss(h); }

template <int R, int T>
void q8_0_micro(const Matrix& w, int64_t r, const Activations& a, int64_t t, float* y, int64_t ldy) {
  const int64_t pairs = a.pairs();
  const int64_t blocks = a.blocks();
  const BlockQ8_0* rows[R];
  for (int i = 0; i < R; ++i) rows[i] = reinterpret_cast<const BlockQ8_0*>(w.row(r + i));
  const int8_t* xs[T];
  const int32_t* offs[T];
  const float* dvs[T];
  for (int k = 0; k < T; ++k) {
    xs[k] = a.qs + (t + k) * a.cols;
    offs[k] = a.offsets + (t + k) * pairs * 16;
    dvs[k] = a.dvec + (t + k) * pairs * 16;
  }
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512 acc[R][T];
  for (int i = 0; i < R; ++i) {
    for (int k = 0; k < T; ++k) acc[i][k] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < pairs; ++p) {
    __m512i wv[R];
    __m512 dw[R];
#pragma GCC unroll 4
    for (int i = 0; i < R; ++i) {
      const BlockQ8_0* b = rows[i] + 2 * p;
      const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[0].qs));
      const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[1].qs));
      wv[i] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), flip);
      dw[i] = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(half(b[0].d)), _mm512_set1_ps(half(b[1].d)));
    }
#pragma GCC unroll 4
    for (int k = 0; k < T; ++k) {
      const __m512i xv = _mm512_loadu_si512(xs[k] + 64 * p);
      const __m512i off = _mm512_load_si512(offs[k] + 16 * p);
      const __m512 dv = _mm512_load_ps(dvs[k] + 16 * p);
#pragma GCC unroll 4
      for (int i = 0; i < R; ++i) {
        const __m512i dot = _mm512_dpbusd_epi32(off, wv[i], xv);
        acc[i][k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw[i], dv), acc[i][k]);
      }
    }
  }
  for (int i = 0; i < R; ++i) {
    for (int k = 0; k < T; ++k) {
      float sum = _mm512_reduce_add_ps(acc[i][k]);
      if (blocks % 2 != 0) {  // a last unpaired block
        const BlockQ8_0& b = rows[i][blocks - 1];
        const int8_t* x = xs[k] + 32 * (blocks - 1);
        int32_t dot = 0;
        for (int j = 0; j < 32; ++j) dot += b.qs[j] * x[j];
        sum += half(b.d) * a.d[(t + k) * blocks + blocks - 1] * static_cast<float>(dot);
      }
      y[(t + k) * ldy + r + i] = sum;
    }
  }
}

template <int T>
void q8_0_rows(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t, float* y, int64_t ldy) {
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) q8_0_micro<4, T>(w, r, a, t, y, ldy);
  switch (r1 - r) {
    case 3: q8_0_micro<3, T>(w, r, a, t, y, ldy); break;
    case 2: q8_0_micro<2, T>(w, r, a, t, y, ldy); break;
    case 1: q8_0_micro<1, T>(w, r, a, t, y, ldy); break;
    default: break;
  }
}

// Prefill: sixteen rows repacked so that lane l of a vector holds row l's bytes. One vpdpbusd then advances
// sixteen rows by four elements against four bytes of one token broadcast to every lane, and the block's
// float scaling (convert, scale, add) is paid once per 16 rows x 32 elements instead of per 2 blocks of one
// row. The repack (once per call and row block, shared by all the call's tokens) also applies the +128
// offset and turns the f16 scales into floats.
constexpr int64_t kPackRows = 16;
constexpr int kPackTokens = 8;

struct alignas(64) PackedBlock {
  uint8_t q[8][64];  // q[j][4 l + i] = row l's quant 4 j + i of this block, + 128
  float d[16];       // row l's scale
};

void pack_rows(const Matrix& w, int64_t r0, int64_t blocks, PackedBlock* out) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  // Element (row l, dword j) of the block goes to dword l of vector j: a 16 x 8 transpose of dwords, done
  // per row with a scatter-free pattern (each row contributes one dword to each of the 8 vectors).
  for (int64_t b = 0; b < blocks; ++b) {
    PackedBlock& pb = out[b];
    for (int l = 0; l < kPackRows; ++l) {
      const BlockQ8_0& blk = reinterpret_cast<const BlockQ8_0*>(w.row(r0 + l))[b];
      pb.d[l] = half(blk.d);
      uint32_t dwords[8];
      __builtin_memcpy(dwords, blk.qs, 32);
      for (int j = 0; j < 8; ++j) reinterpret_cast<uint32_t*>(pb.q[j])[l] = dwords[j];
    }
    for (int j = 0; j < 8; ++j) {
      __m512i v = _mm512_load_si512(pb.q[j]);
      _mm512_store_si512(pb.q[j], _mm512_xor_si512(v, flip));
    }
  }
}

template <int T>
void q8_0_packed(const PackedBlock* packed, int64_t blocks, const Activations& a, int64_t t, float* y, int64_t ldy) {
  __m512 facc[T];
  for (int k = 0; k < T; ++k) facc[k] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const PackedBlock& pb = packed[b];
    __m512i acc[T];
#pragma GCC unroll 8
    for (int k = 0; k < T; ++k) {
      // Undoes the +128 of the weights: every lane starts at -128 * sum(x) of this block.
      acc[k] = _mm512_set1_epi32(-128 * a.sums[(t + k) * blocks + b]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const __m512i wv = _mm512_load_si512(pb.q[j]);
#pragma GCC unroll 8
      for (int k = 0; k < T; ++k) {
        int32_t xw;
        __builtin_memcpy(&xw, a.qs + (t + k) * a.cols + 32 * b + 4 * j, 4);
        acc[k] = _mm512_dpbusd_epi32(acc[k], wv, _mm512_set1_epi32(xw));
      }
    }
    const __m512 dw = _mm512_load_ps(pb.d);
#pragma GCC unroll 8
    for (int k = 0; k < T; ++k) {
      const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(a.d[(t + k) * a.blocks() + b]));
      facc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[k]), s, facc[k]);
    }
  }
  for (int k = 0; k < T; ++k) _mm512_storeu_ps(y + (t + k) * ldy, facc[k]);
}

// Grow-only, 64-byte-aligned storage for packed rows; one per thread and packed type (thread_local), given
// back when its thread ends.
template <typename Packed>
class PackedBuffer {
 public:
  PackedBuffer() = default;
  PackedBuffer(const PackedBuffer&) = delete;
  PackedBuffer& operator=(const PackedBuffer&) = delete;
  ~PackedBuffer() { ::operator delete[](data_, std::align_val_t{64}); }

  Packed* at_least(int64_t count) {
    if (capacity_ < count) {
      ::operator delete[](data_, std::align_val_t{64});
      data_ = static_cast<Packed*>(::operator new[](static_cast<size_t>(count) * sizeof(Packed), std::align_val_t{64}));
      capacity_ = count;
    }
    return data_;
  }

 private:
  Packed* data_ = nullptr;
  int64_t capacity_ = 0;
};

void q8_0_prefill(const Matrix& w, int64_t r0, const Activations& a, int64_t t0, int64_t t1, float* y, int64_t ldy) {
  const int64_t blocks = a.blocks();
  thread_local PackedBuffer<PackedBlock> storage;
  PackedBlock* packed = storage.at_least(blocks);
  pack_rows(w, r0, blocks, packed);
  float* yr = y + r0;
  int64_t t = t0;
  for (; t + kPackTokens <= t1; t += kPackTokens) q8_0_packed<kPackTokens>(packed, blocks, a, t, yr, ldy);
  switch (t1 - t) {
    case 7: q8_0_packed<7>(packed, blocks, a, t, yr, ldy); break;
    case 6: q8_0_packed<6>(packed, blocks, a, t, yr, ldy); break;
    case 5: q8_0_packed<5>(packed, blocks, a, t, yr, ldy); break;
    case 4: q8_0_packed<4>(packed, blocks, a, t, yr, ldy); break;
    case 3: q8_0_packed<3>(packed, blocks, a, t, yr, ldy); break;
    case 2: q8_0_packed<2>(packed, blocks, a, t, yr, ldy); break;
    case 1: q8_0_packed<1>(packed, blocks, a, t, yr, ldy); break;
    default: break;
  }
}

void q8_0(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
          int64_t ldy) {
  // Decode (and the odd rows of a block): the AVX2 kernel, which reads a row once per token at less setup.
  if (t1 - t0 < 4) return avx2_tiles().q8_0(w, r0, r1, a, t0, t1, y, ldy);
  int64_t r = r0;
  for (; r + kPackRows <= r1; r += kPackRows) q8_0_prefill(w, r, a, t0, t1, y, ldy);
  if (r == r1) return;
  r0 = r;
  int64_t t = t0;
  for (; t + 4 <= t1; t += 4) q8_0_rows<4>(w, r0, r1, a, t, y, ldy);
  switch (t1 - t) {
    case 3: q8_0_rows<3>(w, r0, r1, a, t, y, ldy); break;
    case 2: q8_0_rows<2>(w, r0, r1, a, t, y, ldy); break;
    case 1: q8_0_rows<1>(w, r0, r1, a, t, y, ldy); break;
    default: break;
  }
}

// K-quant prefill: the same sixteen-row layout, filled from unpack_k_block: unsigned quants (so no offset
// is needed for vpdpbusd) and per row and group (32 elements, 16 for Q6_K) a float scale and min, so that
// row l's part of the group is scale[l] * dot(q, x) - min[l] * sum(x), times the activations' scale.
template <int G>
struct alignas(64) PackedGroup {
  uint8_t q[G / 4][64];
  float scale[16];
  float min[16];
};

template <int G>
void pack_k_rows(const Matrix& w, int64_t r0, int64_t super_blocks, PackedGroup<G>* out) {
  constexpr int kGroups = 256 / G;
  const size_t block_bytes = dtype_info(w.dtype).block_bytes;
  alignas(64) uint8_t q[256];
  float scale[16], min[16];
  for (int64_t sb = 0; sb < super_blocks; ++sb) {
    for (int l = 0; l < kPackRows; ++l) {
      unpack_k_block(w.dtype, w.row(r0 + l) + static_cast<size_t>(sb) * block_bytes, q, scale, min);
      for (int g = 0; g < kGroups; ++g) {
        PackedGroup<G>& pg = out[sb * kGroups + g];
        pg.scale[l] = scale[g];
        pg.min[l] = min[g];
        for (int j = 0; j < G / 4; ++j) __builtin_memcpy(&pg.q[j][4 * l], q + g * G + 4 * j, 4);
      }
    }
  }
}

template <int G, int T>
void k_packed(const PackedGroup<G>* packed, int64_t groups, const Activations& a, int64_t t, float* y, int64_t ldy) {
  constexpr int kGroups = 256 / G;
  const int64_t sblocks = a.super_blocks();
  const int64_t bsum_stride = a.cols / 16;
  __m512 facc[T];
  for (int k = 0; k < T; ++k) facc[k] = _mm512_setzero_ps();
  for (int64_t gi = 0; gi < groups; ++gi) {
    const PackedGroup<G>& pg = packed[gi];
    __m512i acc[T];
    for (int k = 0; k < T; ++k) acc[k] = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int j = 0; j < G / 4; ++j) {
      const __m512i wv = _mm512_load_si512(pg.q[j]);
#pragma GCC unroll 8
      for (int k = 0; k < T; ++k) {
        int32_t xw;
        __builtin_memcpy(&xw, a.qs + (t + k) * a.cols + gi * G + 4 * j, 4);
        acc[k] = _mm512_dpbusd_epi32(acc[k], wv, _mm512_set1_epi32(xw));
      }
    }
    const __m512 sc = _mm512_load_ps(pg.scale);
    const __m512 mn = _mm512_load_ps(pg.min);
    const int64_t sb = gi / kGroups;
#pragma GCC unroll 8
    for (int k = 0; k < T; ++k) {
      const float dx = a.d[(t + k) * sblocks + sb];
      const int16_t* bs = a.bsums + (t + k) * bsum_stride;
      const int gsum = G == 32 ? bs[2 * gi] + bs[2 * gi + 1] : bs[gi];
      facc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[k]), _mm512_mul_ps(sc, _mm512_set1_ps(dx)), facc[k]);
      facc[k] = _mm512_fnmadd_ps(mn, _mm512_set1_ps(dx * static_cast<float>(gsum)), facc[k]);
    }
  }
  for (int k = 0; k < T; ++k) _mm512_storeu_ps(y + (t + k) * ldy, facc[k]);
}

template <int G>
void k_prefill(const Matrix& w, int64_t r0, const Activations& a, int64_t t0, int64_t t1, float* y, int64_t ldy) {
  const int64_t groups = a.cols / G;
  thread_local PackedBuffer<PackedGroup<G>> storage;
  PackedGroup<G>* buffer = storage.at_least(groups);
  pack_k_rows<G>(w, r0, a.super_blocks(), buffer);
  float* yr = y + r0;
  int64_t t = t0;
  for (; t + kPackTokens <= t1; t += kPackTokens) k_packed<G, kPackTokens>(buffer, groups, a, t, yr, ldy);
  switch (t1 - t) {
    case 7: k_packed<G, 7>(buffer, groups, a, t, yr, ldy); break;
    case 6: k_packed<G, 6>(buffer, groups, a, t, yr, ldy); break;
    case 5: k_packed<G, 5>(buffer, groups, a, t, yr, ldy); break;
    case 4: k_packed<G, 4>(buffer, groups, a, t, yr, ldy); break;
    case 3: k_packed<G, 3>(buffer, groups, a, t, yr, ldy); break;
    case 2: k_packed<G, 2>(buffer, groups, a, t, yr, ldy); break;
    case 1: k_packed<G, 1>(buffer, groups, a, t, yr, ldy); break;
    default: break;
  }
}

// K-quant decode (1-3 tokens): each row is read once per call and its super-blocks are unpacked in
// registers. A vector of 64 unsigned quants q meets 64 activation bytes in vpmaddubsw (int16 pairs; at most
// 2 * 63 * 127, no saturation), and vpdpwssd multiplies each pair by its sub-block's int16 scale and
// accumulates into int32: two multiplies per 64 weights and token, converted to float once per super-block.
// The int16 scale vectors come from the super-block's decoded scales with one vpshufb (Q4_K / Q5_K) or vpermw
// (Q6_K, whose signed scales are widened first) each.
//
// Q4_K / Q5_K: 64 bytes of qs give two vectors, their low and their high nibbles; vector c (of 4) holds in
// its two halves sub-blocks k_group(c, 0) and k_group(c, 1), so the activations are reordered to match once
// per call (k_interleave). The mins go through the activations' 16-sums (vpmaddwd) with the separate float
// scale dmin. Q6_K: the low nibbles of 64 bytes of ql are elements 128h..128h+63 and the high nibbles the next
// 64, already in activation order; its +32 offset starts each super-block's sum at -32 * sum(scale * 16-sum).
constexpr int k_group(int c, int half) { return 4 * (c / 2) + c % 2 + 2 * half; }

struct alignas(64) LaneIndex {
  int16_t v[4][32];
};

// Q4_K / Q5_K: vpshufb controls that turn the 16 bytes of scales_mins, broadcast to every 128-bit lane, into
// the int16 scale of each word lane of vector c (byte 0x80 makes a zero high byte), and (kMinShuffle) into the
// min of each 16-sum, m_j for 16-sums 2j and 2j + 1.
struct alignas(64) ByteShuffle {
  int8_t v[4][64];
};
constexpr ByteShuffle kScaleShuffle32 = [] {
  ByteShuffle sh{};
  for (int c = 0; c < 4; ++c) {
    for (int i = 0; i < 64; ++i) sh.v[c][i] = static_cast<int8_t>(i % 2 == 0 ? k_group(c, i / 32) : 0x80);
  }
  return sh;
}();
struct alignas(32) MinShuffle {
  int8_t v[32];
};
constexpr MinShuffle kMinShuffle = [] {
  MinShuffle sh{};
  for (int i = 0; i < 32; ++i) sh.v[i] = static_cast<int8_t>(i % 2 == 0 ? 8 + i / 4 : 0x80);
  return sh;
}();
// Q6_K: word lane i of vector c (elements 64c + 2i, 2i + 1) takes scale 4c + i / 8.
constexpr LaneIndex kScaleIndex16 = [] {
  LaneIndex ix{};
  for (int c = 0; c < 4; ++c) {
    for (int i = 0; i < 32; ++i) ix.v[c][i] = static_cast<int16_t>(4 * c + i / 8);
  }
  return ix;
}();
// Q5_K: the qh bit of each byte of vector c: bit j of qh[l] is the fifth bit of element 32 j + l.
struct alignas(64) HighBits {
  uint8_t v[4][64];
};
constexpr HighBits kQ5HighBit = [] {
  HighBits h{};
  for (int c = 0; c < 4; ++c) {
    for (int i = 0; i < 64; ++i) h.v[c][i] = static_cast<uint8_t>(1u << k_group(c, i / 32));
  }
  return h;
}();

// Q4_K / Q5_K: the eight 6-bit scales (bytes 0-7) and mins (bytes 8-15) of a super-block from its 12 packed
// bytes (layout: ref::k_quant_scale_min). Reads 16 bytes; the 4 past the scales are the block's own quants.
inline __m128i scales_mins(const uint8_t* scales) {
  const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales));
  // Bytes 0-3: scales 0-3 (low 6 bits of s0-3); 4-7: scales 4-7 (low nibbles of s8-11); 8-11: mins 0-3 (low 6
  // bits of s4-7); 12-15: mins 4-7 (high nibbles of s8-11).
  const __m128i a = _mm_shuffle_epi8(s, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
  const __m128i low = _mm_and_si128(_mm_mask_srli_epi16(a, 0xc0, a, 4),
                                    _mm_setr_epi8(0x3f, 0x3f, 0x3f, 0x3f, 0x0f, 0x0f, 0x0f, 0x0f, 0x3f, 0x3f, 0x3f,
                                                  0x3f, 0x0f, 0x0f, 0x0f, 0x0f));
  // The top two bits of scales 4-7 are those of s0-3, of mins 4-7 those of s4-7: bits 6-7 to bits 4-5.
  const __m128i b = _mm_shuffle_epi8(s, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
  const __m128i top = _mm_and_si128(_mm_srli_epi16(b, 2), _mm_set1_epi8(0x30));
  return _mm_or_si128(low, top);
}

// Tokens [t0, t1) of Q8_K activations reordered for the Q4_K / Q5_K vectors: per 128 elements, 0-31, 64-95,
// 32-63, 96-127. Thread-local; valid until the thread's next call.
const int8_t* k_interleave(const Activations& a, int64_t t0, int64_t t1) {
  thread_local PackedBuffer<int8_t> storage;
  int8_t* out = storage.at_least((t1 - t0) * a.cols);
  for (int64_t t = t0; t < t1; ++t) {
    const int8_t* src = a.qs + t * a.cols;
    int8_t* dst = out + (t - t0) * a.cols;
    for (int64_t c = 0; c < a.cols; c += 128) {
      const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + c));
      const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + c + 32));
      const __m256i x2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + c + 64));
      const __m256i x3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + c + 96));
      _mm256_store_si256(reinterpret_cast<__m256i*>(dst + c), x0);
      _mm256_store_si256(reinterpret_cast<__m256i*>(dst + c + 32), x2);
      _mm256_store_si256(reinterpret_cast<__m256i*>(dst + c + 64), x1);
      _mm256_store_si256(reinterpret_cast<__m256i*>(dst + c + 96), x3);
    }
  }
  return out;
}

// One super-block of a row ready for the dot products: its quant vectors (in k_interleave order for Q4_K /
// Q5_K), the int16 scale of each word lane, the int16 weight of each activation 16-sum (Q4_K / Q5_K: the
// mins; Q6_K: -32 * scale), and its float scales (Q4_K / Q5_K: d, dmin; Q6_K: d).
struct KBlock {
  __m512i q[4];
  __m512i scale[4];
  __m256i bsum_weight;
  __m128 dd;
};

template <typename Block>
inline __attribute__((always_inline)) void unpack_block(const Block& blk, KBlock& u) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  if constexpr (std::is_same_v<Block, BlockQ6_K>) {
    const __m256i sm = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales)));
    const __m512i high = _mm512_set1_epi8(0x30);
    // Bits 0-1 (first 32 elements), 2-3 (next 32), 4-5, 6-7 of qh become bits 4-5 of the quant; word shifts
    // carry bits across bytes only below bit 4 or above bit 5, which the 0x30 mask drops.
    const __m512i up_shift = _mm512_mask_blend_epi16(0xffff0000u, _mm512_set1_epi16(4), _mm512_set1_epi16(2));
    for (int h = 0; h < 2; ++h) {
      const __m512i v = _mm512_loadu_si512(blk.ql + 64 * h);
      const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * h)));
      const __m512i up = _mm512_and_si512(_mm512_sllv_epi16(hb, up_shift), high);
      const __m512i down = _mm512_and_si512(_mm512_mask_srli_epi16(hb, 0xffff0000u, hb, 2), high);
      // (nibbles & 0x0f) | high bits as one vpternlogd: f = (A & C) | B.
      u.q[2 * h] = _mm512_ternarylogic_epi32(v, up, low4, 0xec);
      u.q[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(v, 4), down, low4, 0xec);
    }
    const __m512i sm512 = _mm512_castsi256_si512(sm);
    for (int c = 0; c < 4; ++c) u.scale[c] = _mm512_permutexvar_epi16(_mm512_load_si512(kScaleIndex16.v[c]), sm512);
    u.bsum_weight = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sm, 5));
    u.dd = _mm_set1_ps(half(blk.d));
  } else {
    for (int h = 0; h < 2; ++h) {
      const __m512i v = _mm512_loadu_si512(blk.qs + 64 * h);
      u.q[2 * h] = _mm512_and_si512(v, low4);
      u.q[2 * h + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
    }
    if constexpr (std::is_same_v<Block, BlockQ5_K>) {
      const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh)));
      for (int c = 0; c < 4; ++c) {
        const __mmask64 set = _mm512_test_epi8_mask(hb, _mm512_load_si512(kQ5HighBit.v[c]));
        u.q[c] = _mm512_mask_add_epi8(u.q[c], set, u.q[c], _mm512_set1_epi8(16));
      }
    }
    const __m512i bytes = _mm512_broadcast_i32x4(scales_mins(blk.scales));
    for (int c = 0; c < 4; ++c) u.scale[c] = _mm512_shuffle_epi8(bytes, _mm512_load_si512(kScaleShuffle32.v[c]));
    u.bsum_weight = _mm256_shuffle_epi8(_mm512_castsi512_si256(bytes),
                                        _mm256_load_si256(reinterpret_cast<const __m256i*>(kMinShuffle.v)));
    uint32_t d_dmin;
    std::memcpy(&d_dmin, &blk.d, 4);
    u.dd = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(d_dmin)));
  }
}

// Rows [r0, r1) against T tokens whose quants are at x + k * cols (k_interleave'd for Q4_K / Q5_K). One row at
// a time: interleaving the super-blocks of two rows measured no faster from cache and about 1.7x slower from
// DRAM (two interleaved streams, apparently worse for the hardware prefetcher). Software prefetch 2-8 KiB
// ahead made no difference measurable on the shared test machine.
template <typename Block, int T>
void k_decode(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t, const int8_t* x, float* y,
              int64_t ldy) {
  constexpr bool kQ6 = std::is_same_v<Block, BlockQ6_K>;
  const int64_t sblocks = a.super_blocks();
  const int64_t bsum_stride = a.cols / 16;
  const int8_t* xs[T];
  const int16_t* bss[T];
  const float* xds[T];
  for (int k = 0; k < T; ++k) {
    xs[k] = x + k * a.cols;
    bss[k] = a.bsums + (t + k) * bsum_stride;
    xds[k] = a.d + (t + k) * sblocks;
  }
  for (int64_t r = r0; r < r1; ++r) {
    const auto* row = reinterpret_cast<const Block*>(w.row(r));
    __m512 acc[T];
    __m256 min_acc[T];  // Q4_K / Q5_K: -dmin * xd * sum(m * 16-sum)
    for (int k = 0; k < T; ++k) {
      acc[k] = _mm512_setzero_ps();
      min_acc[k] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < sblocks; ++b) {
      KBlock u;
      unpack_block(row[b], u);
#pragma GCC unroll 4
      for (int k = 0; k < T; ++k) {
        const __m256i offset =
            _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(bss[k] + 16 * b)), u.bsum_weight);
        const __m128 dx = _mm_mul_ps(u.dd, _mm_broadcast_ss(xds[k] + b));
        const __m512i* xv = reinterpret_cast<const __m512i*>(xs[k] + 256 * b);
        // Two chains of vpdpwssd, halving the latency of a super-block's sum.
        __m512i dot = kQ6 ? _mm512_zextsi256_si512(offset) : _mm512_setzero_si512();
        dot = _mm512_dpwssd_epi32(dot, _mm512_maddubs_epi16(u.q[0], _mm512_loadu_si512(xv)), u.scale[0]);
        __m512i dot2 = _mm512_madd_epi16(_mm512_maddubs_epi16(u.q[1], _mm512_loadu_si512(xv + 1)), u.scale[1]);
        dot = _mm512_dpwssd_epi32(dot, _mm512_maddubs_epi16(u.q[2], _mm512_loadu_si512(xv + 2)), u.scale[2]);
        dot2 = _mm512_dpwssd_epi32(dot2, _mm512_maddubs_epi16(u.q[3], _mm512_loadu_si512(xv + 3)), u.scale[3]);
        dot = _mm512_add_epi32(dot, dot2);
        acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_broadcastss_ps(dx), acc[k]);
        if constexpr (!kQ6) {
          min_acc[k] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(offset), _mm256_broadcastss_ps(_mm_movehdup_ps(dx)),
                                        min_acc[k]);
        }
      }
    }
    for (int k = 0; k < T; ++k) {
      y[(t + k) * ldy + r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[k], _mm512_zextps256_ps512(min_acc[k])));
    }
  }
}

template <typename Block>
void k_decode_tokens(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1,
                     float* y, int64_t ldy) {
  const int8_t* x = std::is_same_v<Block, BlockQ6_K> ? a.qs + t0 * a.cols : k_interleave(a, t0, t1);
  switch (t1 - t0) {
    case 3: k_decode<Block, 3>(w, r0, r1, a, t0, x, y, ldy); break;
    case 2: k_decode<Block, 2>(w, r0, r1, a, t0, x, y, ldy); break;
    case 1: k_decode<Block, 1>(w, r0, r1, a, t0, x, y, ldy); break;
    default: break;
  }
}

// Repacking sixteen rows costs about as much as running the decode kernel over a few dozen tokens: measured on
// the R1-Distill-Qwen-1.5B shape at Q4_K_M (one thread), 32 tokens ran 1.2x faster without it and 64 tokens
// 1.15x faster with it. MoE experts see a few tokens each (a 128-token V2-Lite prompt: about 12), where
// leaving them unpacked made the whole prompt 1.25x faster.
constexpr int64_t kKQuantRepackMinTokens = 32;

// Fewer tokens go to k_decode, three at a time; prefill repacks whole blocks of 16 rows and leaves the
// remaining rows to the AVX2 kernel (which unpacks each super-block once per row).
void k_quant(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
             int64_t ldy) {
  if (t1 - t0 < kKQuantRepackMinTokens) {
    for (int64_t t = t0; t < t1; t += 3) {
      const int64_t end = std::min(t1, t + 3);
      switch (w.dtype) {
        case DType::Q4_K: k_decode_tokens<BlockQ4_K>(w, r0, r1, a, t, end, y, ldy); break;
        case DType::Q5_K: k_decode_tokens<BlockQ5_K>(w, r0, r1, a, t, end, y, ldy); break;
        default: k_decode_tokens<BlockQ6_K>(w, r0, r1, a, t, end, y, ldy); break;
      }
    }
    return;
  }
  const TileFn fallback = avx2_tiles().get(w.dtype);
  int64_t r = r0;
  for (; r + kPackRows <= r1; r += kPackRows) {
    if (w.dtype == DType::Q6_K) {
      k_prefill<16>(w, r, a, t0, t1, y, ldy);
    } else {
      k_prefill<32>(w, r, a, t0, t1, y, ldy);
    }
  }
  if (r < r1) fallback(w, r, r1, a, t0, t1, y, ldy);
}

// BF16 weights against activations split into bf16 hi + lo parts: vdpbf16ps multiplies pairs exactly and
// sums in float, so two of them give the product with x to about 2^-17 relative.
template <int T>
__attribute__((target("avx512bf16"))) void bf16_rows(const Matrix& w, int64_t r0, int64_t r1, const Activations& a,
                                                      int64_t t, float* y, int64_t ldy) {
  const int64_t cols = a.cols;
  const int64_t vec_cols = cols / 32 * 32;
  for (int64_t r = r0; r < r1; ++r) {
    const auto* row = reinterpret_cast<const uint16_t*>(w.row(r));
    __m512 acc[T];
    for (int k = 0; k < T; ++k) acc[k] = _mm512_setzero_ps();
    for (int64_t c = 0; c < vec_cols; c += 32) {
      const __m512bh wv = reinterpret_cast<__m512bh>(_mm512_loadu_si512(row + c));
#pragma GCC unroll 4
      for (int k = 0; k < T; ++k) {
        const __m512bh hi = reinterpret_cast<__m512bh>(_mm512_loadu_si512(a.bf16 + (t + k) * cols + c));
        const __m512bh lo = reinterpret_cast<__m512bh>(_mm512_loadu_si512(a.bf16_lo + (t + k) * cols + c));
        acc[k] = _mm512_dpbf16_ps(_mm512_dpbf16_ps(acc[k], wv, hi), wv, lo);
      }
    }
    for (int k = 0; k < T; ++k) {
      float sum = _mm512_reduce_add_ps(acc[k]);
      for (int64_t c = vec_cols; c < cols; ++c) {
        sum += bf16_to_f32(row[c]) * (bf16_to_f32(a.bf16[(t + k) * cols + c]) + bf16_to_f32(a.bf16_lo[(t + k) * cols + c]));
      }
      y[(t + k) * ldy + r] = sum;
    }
  }
}

void bf16(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
          int64_t ldy) {
  if (a.kind != ActKind::Bf16) return avx2_tiles().bf16(w, r0, r1, a, t0, t1, y, ldy);
  int64_t t = t0;
  for (; t + 4 <= t1; t += 4) bf16_rows<4>(w, r0, r1, a, t, y, ldy);
  for (; t < t1; ++t) bf16_rows<1>(w, r0, r1, a, t, y, ldy);
}

}  // namespace

const TileTable& avx512_tiles() {
  static const TileTable table = [] {
    TileTable t = avx2_tiles();
    t.q8_0 = q8_0;
    t.q4_k = k_quant;
    t.q5_k = k_quant;
    t.q6_k = k_quant;
    t.bf16 = bf16;
    return t;
  }();
  return table;
}

}  // namespace whale::kernels

#pragma GCC diagnostic pop
#pragma GCC pop_options
