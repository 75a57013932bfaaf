// Scalar K-quant quantizers (Q4_K, Q5_K, Q6_K; see quant.h). Each super-block of 256 values gets one f16
// scale (and, for Q4_K/Q5_K, one f16 min scale) and per-sub-block 6-bit (8-bit for Q6_K) multipliers of
// them. Sub-block scales are chosen by a small search: several candidate step sizes around the min-max one,
// each followed by the least-squares scale (and min) for the quants it produced; the candidate with the
// smallest squared error wins. The super-block scales then quantize the sub-block scales, and the values are
// quantized again with the scales as stored, so rounding of the scales is not compounded.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/ref/quant.h"

namespace whale::ref {
namespace {

// Candidate grids: the range (asymmetric) spans qmax - 1.5 .. qmax + 0.375 steps in eighths, or the largest
// magnitude (symmetric) sits at half - 8 .. half levels in halves. Wider than the min-max grid alone because
// a slightly coarser grid often puts more values near grid points.
constexpr int kAsymmetricCandidates = 16;
constexpr int kSymmetricCandidates = 17;

// Round to nearest (ties to even) for |v| < 2^22: adding 1.5 * 2^23 leaves the rounded integer in the low
// mantissa bits. Inline and branch-free, unlike lround, which dominates the search loops otherwise.
inline int nearest(float v) {
  const float shifted = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof(bits));
  return (bits & 0x007fffff) - 0x00400000;
}

// Asymmetric sub-block: x ~ scale * q - min with q in [0, qmax], min >= 0 (so 0 stays representable only if
// the sub-block straddles it; a positive sub-block uses min = 0). Returns the squared error; writes q.
float fit_scale_min(const float* x, int n, int qmax, float* scale, float* min, uint8_t* q) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  lo = std::min(lo, 0.0f);
  if (hi <= lo) {
    *scale = 0.0f;
    *min = -lo;
    std::fill(q, q + n, 0);
    float err = 0.0f;
    for (int i = 0; i < n; ++i) err += (x[i] - lo) * (x[i] - lo);
    return err;
  }
  float best_err = INFINITY;
  uint8_t trial[256];
  for (int k = 0; k < kAsymmetricCandidates; ++k) {
    const float inv = (static_cast<float>(qmax) - 1.5f + 0.125f * static_cast<float>(k)) / (hi - lo);
    for (int i = 0; i < n; ++i) trial[i] = static_cast<uint8_t>(std::clamp(nearest(inv * (x[i] - lo)), 0, qmax));
    // Least squares for x ~ s * q + b over the trial quants; b = -min must stay <= 0.
    double sq = 0, sqq = 0, sx = 0, sqx = 0;
    for (int i = 0; i < n; ++i) {
      sq += trial[i];
      sqq += static_cast<double>(trial[i]) * trial[i];
      sx += x[i];
      sqx += static_cast<double>(trial[i]) * x[i];
    }
    const double det = n * sqq - sq * sq;
    double s = 0, b = 0;
    if (det > 0) {
      s = (n * sqx - sq * sx) / det;
      b = (sqq * sx - sq * sqx) / det;
    }
    if (b > 0 || det <= 0) {  // refit with b = 0
      b = 0;
      s = sqq > 0 ? sqx / sqq : 0;
    }
    if (s <= 0) continue;
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float e = static_cast<float>(s * trial[i] + b) - x[i];
      err += e * e;
    }
    if (err < best_err) {
      best_err = err;
      *scale = static_cast<float>(s);
      *min = static_cast<float>(-b);
      std::memcpy(q, trial, static_cast<size_t>(n));
    }
  }
  if (best_err == INFINITY) {  // every candidate degenerate: min-max
    *scale = (hi - lo) / static_cast<float>(qmax);
    *min = -lo;
    best_err = 0.0f;
  }
  return best_err;
}

// Symmetric sub-block: x ~ scale * q with q in [-half, half - 1]. Returns the scale (signed: the largest
// magnitude maps to -half so the asymmetric range is used on the side that needs it).
float fit_scale_symmetric(const float* x, int n, int half) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax == 0.0f) return 0.0f;
  float best_err = INFINITY, best = 0.0f;
  for (int k = 0; k < kSymmetricCandidates; ++k) {
    const float inv = -(static_cast<float>(half) - 8.0f + 0.5f * static_cast<float>(k)) / max;
    float sqx = 0, sqq = 0;
    for (int i = 0; i < n; ++i) {
      const int q = std::clamp(nearest(inv * x[i]), -half, half - 1);
      sqx += static_cast<float>(q) * x[i];
      sqq += static_cast<float>(q * q);
    }
    if (sqq == 0) continue;
    // With the least-squares scale s = sqx / sqq the squared error is sum(x^2) - sqx^2 / sqq; sum(x^2) is the
    // same for every candidate, so the candidate with the largest sqx^2 / sqq wins.
    const float err = -sqx * sqx / sqq;
    if (err < best_err) {
      best_err = err;
      best = sqx / sqq;
    }
  }
  return best;
}

// Packs 6-bit scales and mins of 8 sub-blocks into the 12 bytes k_quant_scale_min reads.
void pack_scale_min(const uint8_t* sc, const uint8_t* mn, uint8_t* out) {
  for (int j = 0; j < 4; ++j) {
    out[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    out[j + 4] = static_cast<uint8_t>((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
    out[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xf) | ((mn[j + 4] & 0xf) << 4));
  }
}

// The shared part of Q4_K and Q5_K: per-sub-block fits, then the stored scales and the final quants in
// element order (q[256], 0..qmax).
void quantize_scaled_min(const float* x, int qmax, uint16_t* d_out, uint16_t* dmin_out, uint8_t* scales_out,
                         uint8_t* q) {
  float scale[8], min[8];
  for (int j = 0; j < 8; ++j) fit_scale_min(x + 32 * j, 32, qmax, &scale[j], &min[j], q + 32 * j);
  const float max_scale = *std::max_element(scale, scale + 8);
  const float max_min = *std::max_element(min, min + 8);
  const uint16_t d16 = f32_to_f16(max_scale / 63.0f);
  const uint16_t dmin16 = f32_to_f16(max_min / 63.0f);
  const float d = f16_to_f32(d16), dmin = f16_to_f32(dmin16);
  uint8_t sc[8], mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>(d > 0 ? std::clamp(nearest(scale[j] / d), 0, 63) : 0);
    mn[j] = static_cast<uint8_t>(dmin > 0 ? std::clamp(nearest(min[j] / dmin), 0, 63) : 0);
    const float s = d * sc[j], m = dmin * mn[j];
    const float inv_s = s > 0 ? 1.0f / s : 0.0f;
    for (int i = 0; i < 32; ++i) {
      q[32 * j + i] = static_cast<uint8_t>(std::clamp(nearest((x[32 * j + i] + m) * inv_s), 0, qmax));
    }
  }
  *d_out = d16;
  *dmin_out = dmin16;
  pack_scale_min(sc, mn, scales_out);
}

}  // namespace

void quantize_row_q4_k(const float* src, BlockQ4_K* dst, int64_t n) {
  for (int64_t b = 0; b < n / static_cast<int64_t>(kQK_K); ++b) {
    uint8_t q[256];
    BlockQ4_K& blk = dst[b];
    quantize_scaled_min(src + b * kQK_K, 15, &blk.d, &blk.dmin, blk.scales, q);
    // Chunk c of 64 elements: the first 32 in the low nibbles of qs[32c..], the next 32 in the high ones.
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) blk.qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
    }
  }
}

void quantize_row_q5_k(const float* src, BlockQ5_K* dst, int64_t n) {
  for (int64_t b = 0; b < n / static_cast<int64_t>(kQK_K); ++b) {
    uint8_t q[256];
    BlockQ5_K& blk = dst[b];
    quantize_scaled_min(src + b * kQK_K, 31, &blk.d, &blk.dmin, blk.scales, q);
    std::memset(blk.qh, 0, sizeof(blk.qh));
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo = q[64 * c + l], hi = q[64 * c + 32 + l];
        blk.qs[32 * c + l] = static_cast<uint8_t>((lo & 0xf) | ((hi & 0xf) << 4));
        // Bit j of qh[l] is the fifth bit of element 32 j + l (sub-block j).
        blk.qh[l] = static_cast<uint8_t>(blk.qh[l] | ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
      }
    }
  }
}

void quantize_row_q6_k(const float* src, BlockQ6_K* dst, int64_t n) {
  for (int64_t b = 0; b < n / static_cast<int64_t>(kQK_K); ++b) {
    const float* x = src + b * kQK_K;
    BlockQ6_K& blk = dst[b];
    float scale[16];
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 16; ++j) {
      scale[j] = fit_scale_symmetric(x + 16 * j, 16, 32);
      if (std::fabs(scale[j]) > amax) {
        amax = std::fabs(scale[j]);
        max = scale[j];
      }
    }
    // int8 sub-block scales: the largest magnitude maps to -128 (as for the quants, the wider side).
    const uint16_t d16 = f32_to_f16(max / -128.0f);
    const float d = f16_to_f32(d16);
    uint8_t q[256];
    for (int j = 0; j < 16; ++j) {
      const int sc = d != 0.0f ? std::clamp(nearest(scale[j] / d), -128, 127) : 0;
      blk.scales[j] = static_cast<int8_t>(sc);
      const float s = d * static_cast<float>(sc);
      const float inv_s = s != 0.0f ? 1.0f / s : 0.0f;
      for (int i = 0; i < 16; ++i) {
        q[16 * j + i] = static_cast<uint8_t>(std::clamp(nearest(x[16 * j + i] * inv_s), -32, 31) + 32);
      }
    }
    blk.d = d16;
    // Element 128 h + 32 k + l: low 4 bits in ql[64 h + l + 32 (k & 1)] (low nibble for k < 2), top 2 bits at
    // bit 2k of qh[32 h + l].
    std::memset(blk.ql, 0, sizeof(blk.ql));
    std::memset(blk.qh, 0, sizeof(blk.qh));
    for (int h = 0; h < 2; ++h) {
      for (int k = 0; k < 4; ++k) {
        for (int l = 0; l < 32; ++l) {
          const uint8_t v = q[128 * h + 32 * k + l];
          uint8_t& low = blk.ql[64 * h + l + 32 * (k & 1)];
          low = static_cast<uint8_t>(low | (k < 2 ? (v & 0xf) : ((v & 0xf) << 4)));
          blk.qh[32 * h + l] = static_cast<uint8_t>(blk.qh[32 * h + l] | ((v >> 4) << (2 * k)));
        }
      }
    }
  }
}

}  // namespace whale::ref
