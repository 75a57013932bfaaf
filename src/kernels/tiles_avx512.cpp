// AVX-512 tile kernels (see tiles.h): Q8_0 and the K-quants through VNNI (vpdpbusd), BF16 through vdpbf16ps
// where the CPU has AVX512_BF16; the other types (and decode of the K-quants) use the AVX2 kernels, which already run these
// CPUs' 256-bit data paths at full rate. Compiled with per-region target options (baseline binary).
//
// Q8_0: vpdpbusd multiplies unsigned by signed bytes, so weights are offset by +128 (a byte xor 0x80) and the
// sum accumulates from -128 * sum(x) per block (prepared once per call, act.h): exact in int32. A tile
// keeps four rows of weights in registers and streams up to four tokens past them.
#include <immintrin.h>

#include <cstdint>
#include <new>

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

// Decode and row remainders go to the AVX2 kernel (which unpacks each super-block once per row).
void k_quant(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
             int64_t ldy) {
  const TileFn fallback = avx2_tiles().get(w.dtype);
  if (t1 - t0 < 4) return fallback(w, r0, r1, a, t0, t1, y, ldy);
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
