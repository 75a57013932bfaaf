// Scalar reference (de)quantization of the weight storage types (see quant.h). Block layouts are ggml's,
// described in core/dtype.h.
#include "kernels/ref/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace whale::ref {

void k_quant_scale_min(const uint8_t* scales, int j, uint8_t* scale, uint8_t* min) {
  // Bytes 0-3 hold the low 6 bits of scales 0-3 (top 2 bits: high bits of scale 4-7), bytes 4-7 the same
  // for mins, bytes 8-11 the low nibbles of scales 4-7 (low) and mins 4-7 (high).
  if (j < 4) {
    *scale = scales[j] & 63;
    *min = scales[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((scales[j + 4] & 0xf) | ((scales[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

void dequantize_row_q4_0(const BlockQ4_0* src, float* dst, int64_t n) {
  // Element j of a block is the low nibble of qs[j], element j + 16 the high nibble; both offset by 8.
  for (int64_t b = 0; b < n / static_cast<int64_t>(kQK4_0); ++b) {
    const float d = f16_to_f32(src[b].d);
    float* y = dst + b * kQK4_0;
    for (size_t j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = static_cast<float>((src[b].qs[j] & 0xf) - 8) * d;
      y[j + kQK4_0 / 2] = static_cast<float>((src[b].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_row_q8_0(const BlockQ8_0* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / static_cast<int64_t>(kQK8_0); ++b) {
    const float d = f16_to_f32(src[b].d);
    for (size_t j = 0; j < kQK8_0; ++j) dst[b * kQK8_0 + j] = static_cast<float>(src[b].qs[j]) * d;
  }
}

void dequantize_row_q4_k(const BlockQ4_K* src, float* dst, int64_t n) {
  // Each 64 elements share 32 bytes of qs: the first 32 elements are the low nibbles (sub-block 2i), the next
  // 32 the high nibbles (sub-block 2i+1). value = d * scale * q - dmin * min.
  for (int64_t b = 0; b < n / static_cast<int64_t>(kQK_K); ++b) {
    const BlockQ4_K& blk = src[b];
    const float d = f16_to_f32(blk.d);
    const float dmin = f16_to_f32(blk.dmin);
    float* y = dst + b * kQK_K;
    for (int chunk = 0; chunk < 4; ++chunk) {
      const uint8_t* q = blk.qs + 32 * chunk;
      uint8_t sc0, m0, sc1, m1;
      k_quant_scale_min(blk.scales, 2 * chunk, &sc0, &m0);
      k_quant_scale_min(blk.scales, 2 * chunk + 1, &sc1, &m1);
      for (int l = 0; l < 32; ++l) {
        y[64 * chunk + l] = d * sc0 * static_cast<float>(q[l] & 0xf) - dmin * m0;
        y[64 * chunk + 32 + l] = d * sc1 * static_cast<float>(q[l] >> 4) - dmin * m1;
      }
    }
  }
}

void dequantize_row_q5_k(const BlockQ5_K* src, float* dst, int64_t n) {
  // As Q4_K, plus a fifth bit from qh: bit 2*chunk of qh[l] for the low-nibble half, bit 2*chunk+1 for the
  // high-nibble half.
  for (int64_t b = 0; b < n / static_cast<int64_t>(kQK_K); ++b) {
    const BlockQ5_K& blk = src[b];
    const float d = f16_to_f32(blk.d);
    const float dmin = f16_to_f32(blk.dmin);
    float* y = dst + b * kQK_K;
    for (int chunk = 0; chunk < 4; ++chunk) {
      const uint8_t* q = blk.qs + 32 * chunk;
      uint8_t sc0, m0, sc1, m1;
      k_quant_scale_min(blk.scales, 2 * chunk, &sc0, &m0);
      k_quant_scale_min(blk.scales, 2 * chunk + 1, &sc1, &m1);
      const uint8_t bit0 = static_cast<uint8_t>(1u << (2 * chunk));
      const uint8_t bit1 = static_cast<uint8_t>(2u << (2 * chunk));
      for (int l = 0; l < 32; ++l) {
        const int lo = (q[l] & 0xf) + ((blk.qh[l] & bit0) ? 16 : 0);
        const int hi = (q[l] >> 4) + ((blk.qh[l] & bit1) ? 16 : 0);
        y[64 * chunk + l] = d * sc0 * static_cast<float>(lo) - dmin * m0;
        y[64 * chunk + 32 + l] = d * sc1 * static_cast<float>(hi) - dmin * m1;
      }
    }
  }
}

void dequantize_row_q6_k(const BlockQ6_K* src, float* dst, int64_t n) {
  // Two halves of 128 elements; in half h, element 32*k + l (k = 0..3, l = 0..31) has its low 4 bits in
  // ql[64h + l + 32*(k&1)] (low nibble for k < 2, high for k >= 2), its top 2 bits at bit 2k of qh[32h + l],
  // and scale scales[8h + 2k + l/16]. value = d * scale * (q - 32).
  for (int64_t b = 0; b < n / static_cast<int64_t>(kQK_K); ++b) {
    const BlockQ6_K& blk = src[b];
    const float d = f16_to_f32(blk.d);
    float* y = dst + b * kQK_K;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = blk.ql + 64 * half;
      const uint8_t* qh = blk.qh + 32 * half;
      const int8_t* sc = blk.scales + 8 * half;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q0 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q1 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[128 * half + l] = d * sc[is + 0] * static_cast<float>(q0);
        y[128 * half + 32 + l] = d * sc[is + 2] * static_cast<float>(q1);
        y[128 * half + 64 + l] = d * sc[is + 4] * static_cast<float>(q2);
        y[128 * half + 96 + l] = d * sc[is + 6] * static_cast<float>(q3);
      }
    }
  }
}

void quantize_row_q8_0(const float* src, BlockQ8_0* dst, int64_t n) {
  // Symmetric: d = max|x| / 127, q = round(x / d).
  for (int64_t b = 0; b < n / static_cast<int64_t>(kQK8_0); ++b) {
    const float* x = src + b * kQK8_0;
    float amax = 0.0f;
    for (size_t j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    dst[b].d = f32_to_f16(d);
    for (size_t j = 0; j < kQK8_0; ++j) dst[b].qs[j] = static_cast<int8_t>(std::lround(x[j] * id));
  }
}

void quantize_row_q4_0(const float* src, BlockQ4_0* dst, int64_t n) {
  // The value of largest magnitude maps to -8 exactly (d = max / -8), so the full range [-8, 7] is used on
  // the side where it matters; others round to nearest and clamp at 7.
  for (int64_t b = 0; b < n / static_cast<int64_t>(kQK4_0); ++b) {
    const float* x = src + b * kQK4_0;
    float amax = 0.0f;
    float max = 0.0f;
    for (size_t j = 0; j < kQK4_0; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    dst[b].d = f32_to_f16(d);
    for (size_t j = 0; j < kQK4_0 / 2; ++j) {
      const int lo = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int hi = std::min(15, static_cast<int>(x[j + kQK4_0 / 2] * id + 8.5f));
      dst[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void dequantize_row(DType type, const void* src, float* dst, int64_t n) {
  WHALE_ASSERT(n >= 0 && static_cast<uint64_t>(n) % dtype_info(type).block_elements == 0);
  switch (type) {
    case DType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    // Halves are read byte-wise: safetensors places tensors at any offset, so src may be odd.
    case DType::F16: {
      const auto* bytes = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, sizeof(h));
        dst[i] = f16_to_f32(h);
      }
      return;
    }
    case DType::BF16: {
      const auto* bytes = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, sizeof(h));
        dst[i] = bf16_to_f32(h);
      }
      return;
    }
    case DType::F8_E4M3: {
      const auto* v = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f8_e4m3_to_f32(v[i]);
      return;
    }
    case DType::Q4_0: return dequantize_row_q4_0(static_cast<const BlockQ4_0*>(src), dst, n);
    case DType::Q8_0: return dequantize_row_q8_0(static_cast<const BlockQ8_0*>(src), dst, n);
    case DType::Q4_K: return dequantize_row_q4_k(static_cast<const BlockQ4_K*>(src), dst, n);
    case DType::Q5_K: return dequantize_row_q5_k(static_cast<const BlockQ5_K*>(src), dst, n);
    case DType::Q6_K: return dequantize_row_q6_k(static_cast<const BlockQ6_K*>(src), dst, n);
  }
  WHALE_ASSERT(false && "unhandled DType");
}

bool can_quantize(DType type) {
  switch (type) {
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      return true;
    default:
      return false;
  }
}

void quantize_row(DType type, const float* src, void* dst, int64_t n) {
  WHALE_ASSERT(can_quantize(type));
  WHALE_ASSERT(n >= 0 && static_cast<uint64_t>(n) % dtype_info(type).block_elements == 0);
  switch (type) {
    case DType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::F16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_f16(src[i]);
      return;
    }
    case DType::BF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::Q8_0: return quantize_row_q8_0(src, static_cast<BlockQ8_0*>(dst), n);
    case DType::Q4_0: return quantize_row_q4_0(src, static_cast<BlockQ4_0*>(dst), n);
    case DType::Q4_K: return quantize_row_q4_k(src, static_cast<BlockQ4_K*>(dst), n);
    case DType::Q5_K: return quantize_row_q5_k(src, static_cast<BlockQ5_K*>(dst), n);
    case DType::Q6_K: return quantize_row_q6_k(src, static_cast<BlockQ6_K*>(dst), n);
    default: break;
  }
}

void dequantize_f8_e4m3_blocks(const uint8_t* weight, const float* scale_inv, int64_t rows, int64_t cols,
                               float* dst) {
  const int64_t scale_cols = (cols + kFp8BlockSize - 1) / kFp8BlockSize;
  for (int64_t r = 0; r < rows; ++r) {
    const float* scale_row = scale_inv + (r / kFp8BlockSize) * scale_cols;
    for (int64_t c = 0; c < cols; ++c) {
      dst[r * cols + c] = f8_e4m3_to_f32(weight[r * cols + c]) * scale_row[c / kFp8BlockSize];
    }
  }
}

}  // namespace whale::ref
