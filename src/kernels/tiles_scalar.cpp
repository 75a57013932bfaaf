// Scalar tile kernels (see tiles.h): plain loops over the same integer and float dot products the SIMD
// kernels compute, written for clarity. They define the results the faster tables must reproduce.
#include <bit>

#include "core/error.h"
#include "kernels/ref/quant.h"
#include "kernels/tiles.h"

namespace whale::kernels {
namespace {

template <typename RowDot>
void for_tile(int64_t r0, int64_t r1, int64_t t0, int64_t t1, float* y, int64_t ldy, RowDot dot) {
  for (int64_t t = t0; t < t1; ++t) {
    for (int64_t r = r0; r < r1; ++r) y[t * ldy + r] = dot(r, t);
  }
}

void q8_0(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
          int64_t ldy) {
  for_tile(r0, r1, t0, t1, y, ldy, [&](int64_t r, int64_t t) {
    const auto* wb = reinterpret_cast<const BlockQ8_0*>(w.row(r));
    const int8_t* xq = a.qs + t * a.cols;
    const float* xd = a.d + t * a.blocks();
    float sum = 0.0f;
    for (int64_t b = 0; b < a.blocks(); ++b) {
      int32_t dot = 0;
      for (int i = 0; i < 32; ++i) dot += wb[b].qs[i] * xq[b * 32 + i];
      sum += f16_to_f32(wb[b].d) * xd[b] * static_cast<float>(dot);
    }
    return sum;
  });
}

void q4_0(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
          int64_t ldy) {
  for_tile(r0, r1, t0, t1, y, ldy, [&](int64_t r, int64_t t) {
    const auto* wb = reinterpret_cast<const BlockQ4_0*>(w.row(r));
    const int8_t* xq = a.qs + t * a.cols;
    const float* xd = a.d + t * a.blocks();
    float sum = 0.0f;
    for (int64_t b = 0; b < a.blocks(); ++b) {
      int32_t dot = 0;
      for (int i = 0; i < 16; ++i) {
        dot += ((wb[b].qs[i] & 0xf) - 8) * xq[b * 32 + i] + ((wb[b].qs[i] >> 4) - 8) * xq[b * 32 + 16 + i];
      }
      sum += f16_to_f32(wb[b].d) * xd[b] * static_cast<float>(dot);
    }
    return sum;
  });
}

// Q4_K / Q5_K: value = d * sc_j * q - dmin * m_j over 8 sub-blocks of 32; `quant(blk, i)` is q of element i.
template <typename Block, typename Quant>
float k_dot_scaled_min(const Block* wb, const Activations& a, int64_t t, Quant quant) {
  const int8_t* xq = a.qs + t * a.cols;
  float sum = 0.0f;
  for (int64_t b = 0; b < a.super_blocks(); ++b) {
    int32_t dot = 0, mins = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      ref::k_quant_scale_min(wb[b].scales, j, &sc, &m);
      int32_t sub = 0;
      for (int i = 32 * j; i < 32 * j + 32; ++i) sub += quant(wb[b], i) * xq[b * 256 + i];
      dot += sc * sub;
      mins += m * (a.bsums[t * a.cols / 16 + b * 16 + 2 * j] + a.bsums[t * a.cols / 16 + b * 16 + 2 * j + 1]);
    }
    const float xd = a.d[t * a.super_blocks() + b];
    sum += xd * (f16_to_f32(wb[b].d) * static_cast<float>(dot) - f16_to_f32(wb[b].dmin) * static_cast<float>(mins));
  }
  return sum;
}

int q4_k_quant(const BlockQ4_K& blk, int i) {
  const uint8_t byte = blk.qs[32 * (i / 64) + i % 32];
  return (i % 64) < 32 ? byte & 0xf : byte >> 4;
}

int q5_k_quant(const BlockQ5_K& blk, int i) {
  const uint8_t byte = blk.qs[32 * (i / 64) + i % 32];
  const int low = (i % 64) < 32 ? byte & 0xf : byte >> 4;
  const int bit = i / 32;  // sub-block index: bit j of qh[l] is the fifth bit of sub-block j
  return low | (((blk.qh[i % 32] >> bit) & 1) << 4);
}

void q4_k(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
          int64_t ldy) {
  for_tile(r0, r1, t0, t1, y, ldy, [&](int64_t r, int64_t t) {
    return k_dot_scaled_min(reinterpret_cast<const BlockQ4_K*>(w.row(r)), a, t, q4_k_quant);
  });
}

void q5_k(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
          int64_t ldy) {
  for_tile(r0, r1, t0, t1, y, ldy, [&](int64_t r, int64_t t) {
    return k_dot_scaled_min(reinterpret_cast<const BlockQ5_K*>(w.row(r)), a, t, q5_k_quant);
  });
}

void q6_k(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
          int64_t ldy) {
  for_tile(r0, r1, t0, t1, y, ldy, [&](int64_t r, int64_t t) {
    const auto* wb = reinterpret_cast<const BlockQ6_K*>(w.row(r));
    const int8_t* xq = a.qs + t * a.cols;
    float sum = 0.0f;
    for (int64_t b = 0; b < a.super_blocks(); ++b) {
      const BlockQ6_K& blk = wb[b];
      int32_t dot = 0;
      for (int i = 0; i < 256; ++i) {
        // Element i = 128 h + 32 k + l (see ref::dequantize_row_q6_k).
        const int h = i / 128, k = (i % 128) / 32, l = i % 32;
        const uint8_t low = blk.ql[64 * h + l + 32 * (k & 1)];
        const int q = ((k < 2 ? low & 0xf : low >> 4) | (((blk.qh[32 * h + l] >> (2 * k)) & 3) << 4)) - 32;
        dot += blk.scales[i / 16] * q * xq[b * 256 + i];
      }
      sum += f16_to_f32(blk.d) * a.d[t * a.super_blocks() + b] * static_cast<float>(dot);
    }
    return sum;
  });
}

template <typename Convert>
void float_rows(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
                int64_t ldy, Convert convert) {
  for_tile(r0, r1, t0, t1, y, ldy, [&](int64_t r, int64_t t) {
    const float* x = a.x + t * a.cols;
    float sum = 0.0f;
    for (int64_t c = 0; c < a.cols; ++c) sum += convert(w.row(r), c) * x[c];
    return sum;
  });
}

void f32(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
         int64_t ldy) {
  float_rows(w, r0, r1, a, t0, t1, y, ldy,
             [](const uint8_t* row, int64_t c) { return reinterpret_cast<const float*>(row)[c]; });
}

void f16(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
         int64_t ldy) {
  float_rows(w, r0, r1, a, t0, t1, y, ldy,
             [](const uint8_t* row, int64_t c) { return f16_to_f32(reinterpret_cast<const uint16_t*>(row)[c]); });
}

void bf16(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
          int64_t ldy) {
  WHALE_ASSERT(a.kind == ActKind::Float);
  float_rows(w, r0, r1, a, t0, t1, y, ldy,
             [](const uint8_t* row, int64_t c) { return bf16_to_f32(reinterpret_cast<const uint16_t*>(row)[c]); });
}

void f8(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1, float* y,
        int64_t ldy) {
  for_tile(r0, r1, t0, t1, y, ldy, [&](int64_t r, int64_t t) {
    const uint8_t* row = w.row(r);
    const float* x = a.x + t * a.cols;
    const float* scales = w.scale_inv != nullptr ? w.scale_inv + (r / ref::kFp8BlockSize) * w.scale_cols : nullptr;
    float sum = 0.0f;
    for (int64_t c0 = 0; c0 < a.cols; c0 += ref::kFp8BlockSize) {
      float block = 0.0f;
      for (int64_t c = c0; c < std::min(a.cols, c0 + ref::kFp8BlockSize); ++c) block += f8_e4m3_to_f32(row[c]) * x[c];
      sum += block * (scales != nullptr ? scales[c0 / ref::kFp8BlockSize] : 1.0f);
    }
    return sum;
  });
}

}  // namespace

TileFn TileTable::get(DType type) const {
  switch (type) {
    case DType::Q8_0: return q8_0;
    case DType::Q4_0: return q4_0;
    case DType::Q4_K: return q4_k;
    case DType::Q5_K: return q5_k;
    case DType::Q6_K: return q6_k;
    case DType::F32: return f32;
    case DType::F16: return f16;
    case DType::BF16: return bf16;
    case DType::F8_E4M3: return f8;
  }
  return nullptr;
}

const TileTable& scalar_tiles() {
  static const TileTable table{q8_0, q4_0, q4_k, q5_k, q6_k, f32, f16, bf16, f8};
  return table;
}

const TileTable& tiles_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return avx512_tiles();
    case Isa::Avx2: return avx2_tiles();
    case Isa::Scalar: break;
  }
  return scalar_tiles();
}

}  // namespace whale::kernels
