// Activation preparation for the tile kernels (see act.h).
#include "kernels/act.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"
#include "kernels/isa.h"
#include "kernels/ref/quant.h"

namespace whale::kernels {
namespace {

constexpr size_t kAlign = 64;

size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

}  // namespace

ActKind activation_kind(DType type) {
  switch (type) {
    case DType::Q8_0:
    case DType::Q4_0: return ActKind::Q8_0;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return ActKind::Q8_K;
    case DType::BF16: return active_isa() == Isa::Avx512 && has_avx512_bf16() ? ActKind::Bf16 : ActKind::Float;
    default: return ActKind::Float;
  }
}

namespace {

// std::lround for |v| < 2^31 (halves away from zero), without the library call, so the loops around it
// vectorize: the conversion truncates, and the remainder v - trunc(v) is exact in float.
inline int32_t round_half_away(float v) {
  const auto i = static_cast<int32_t>(v);
  const float rest = v - static_cast<float>(i);
  return i + static_cast<int32_t>(rest >= 0.5f) - static_cast<int32_t>(rest <= -0.5f);
}

}  // namespace

void quantize_act_q8_0(const float* x, int64_t cols, int8_t* qs, float* d, int32_t* sums) {
  // The same values as ref::quantize_row_q8_0 (the scale is rounded through f16 as the format stores it),
  // so Q8_0 results match the reference format llama.cpp uses for these activations.
  for (int64_t b = 0; b < cols / 32; ++b) {
    const float* xb = x + b * 32;
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float scale = amax / 127.0f;
    const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
    d[b] = f16_to_f32(f32_to_f16(scale));
    int8_t* q = qs + b * 32;
    int32_t s = 0;
    for (int i = 0; i < 32; ++i) {
      q[i] = static_cast<int8_t>(round_half_away(xb[i] * inv));
      s += q[i];
    }
    sums[b] = s;
  }
}

void quantize_act_q8_k(const float* x, int64_t cols, int8_t* qs, float* d, int16_t* bsums) {
  // Symmetric per 256: d = max|x| / 127, q = round(x / d) in [-127, 127].
  for (int64_t b = 0; b < cols / 256; ++b) {
    const float* xb = x + b * 256;
    float amax = 0.0f;
    for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float scale = amax / 127.0f;
    const float inv = amax != 0.0f ? 127.0f / amax : 0.0f;
    d[b] = scale;
    int8_t* q = qs + b * 256;
    for (int i = 0; i < 256; ++i) q[i] = static_cast<int8_t>(std::clamp(round_half_away(xb[i] * inv), -127, 127));
    for (int j = 0; j < 16; ++j) {
      int s = 0;
      for (int i = 0; i < 16; ++i) s += q[16 * j + i];
      bsums[b * 16 + j] = static_cast<int16_t>(s);
    }
  }
}

ActivationBuffer::~ActivationBuffer() { std::free(data_); }

Activations ActivationBuffer::reserve(ActKind kind, const float* x, int64_t n, int64_t cols, bool with_pairs) {
  Activations a;
  a.kind = kind;
  a.n = n;
  a.cols = cols;
  a.x = x;
  if (kind == ActKind::Float) return a;
  const size_t tokens = static_cast<size_t>(n);
  const size_t c = static_cast<size_t>(cols);
  size_t sizes[6] = {};
  if (kind == ActKind::Bf16) {
    sizes[0] = aligned(tokens * c * 2);
    sizes[1] = aligned(tokens * c * 2);
  } else {
    WHALE_ASSERT(cols % (kind == ActKind::Q8_K ? 256 : 32) == 0);
    sizes[0] = aligned(tokens * c);                                          // qs
    sizes[1] = aligned(tokens * c / (kind == ActKind::Q8_K ? 256 : 32) * 4);  // d
    sizes[2] = kind == ActKind::Q8_0 ? aligned(tokens * c / 32 * 4) : 0;      // sums
    sizes[3] = kind == ActKind::Q8_K ? aligned(tokens * c / 16 * 2) : 0;      // bsums
    if (kind == ActKind::Q8_0 && with_pairs) {
      sizes[4] = aligned(tokens * (c / 64) * 64);  // offsets
      sizes[5] = aligned(tokens * (c / 64) * 64);  // dvec
    }
  }
  size_t total = 0;
  for (size_t s : sizes) total += s;
  if (total > capacity_) {
    std::free(data_);
    data_ = std::aligned_alloc(kAlign, total);
    if (data_ == nullptr) throw std::bad_alloc();
    capacity_ = total;
  }
  uint8_t* p = static_cast<uint8_t*>(data_);
  uint8_t* parts[6];
  for (int i = 0; i < 6; ++i) {
    parts[i] = sizes[i] != 0 ? p : nullptr;
    p += sizes[i];
  }
  if (kind == ActKind::Bf16) {
    a.bf16 = reinterpret_cast<const uint16_t*>(parts[0]);
    a.bf16_lo = reinterpret_cast<const uint16_t*>(parts[1]);
    return a;
  }
  a.qs = reinterpret_cast<const int8_t*>(parts[0]);
  a.d = reinterpret_cast<const float*>(parts[1]);
  a.sums = reinterpret_cast<const int32_t*>(parts[2]);
  a.bsums = reinterpret_cast<const int16_t*>(parts[3]);
  a.offsets = reinterpret_cast<const int32_t*>(parts[4]);
  a.dvec = reinterpret_cast<const float*>(parts[5]);
  return a;
}

void ActivationBuffer::prepare_range(const Activations& a, int64_t t0, int64_t t1) {
  // The views are const for the kernels; the buffer that owns them is this thread's, written here only.
  for (int64_t t = t0; t < t1; ++t) {
    const float* x = a.x + t * a.cols;
    switch (a.kind) {
      case ActKind::Float: break;
      case ActKind::Bf16: {
        auto* hi = const_cast<uint16_t*>(a.bf16) + t * a.cols;
        auto* lo = const_cast<uint16_t*>(a.bf16_lo) + t * a.cols;
        for (int64_t i = 0; i < a.cols; ++i) {
          hi[i] = f32_to_bf16(x[i]);
          lo[i] = f32_to_bf16(x[i] - bf16_to_f32(hi[i]));
        }
        break;
      }
      case ActKind::Q8_0: {
        auto* qs = const_cast<int8_t*>(a.qs) + t * a.cols;
        auto* d = const_cast<float*>(a.d) + t * a.blocks();
        auto* sums = const_cast<int32_t*>(a.sums) + t * a.blocks();
        quantize_act_q8_0(x, a.cols, qs, d, sums);
        if (a.offsets != nullptr) {
          auto* off = const_cast<int32_t*>(a.offsets) + t * a.pairs() * 16;
          auto* dv = const_cast<float*>(a.dvec) + t * a.pairs() * 16;
          for (int64_t p = 0; p < a.pairs(); ++p) {
            for (int i = 0; i < 16; ++i) {
              off[p * 16 + i] = i == 0 ? -128 * sums[2 * p] : i == 8 ? -128 * sums[2 * p + 1] : 0;
              dv[p * 16 + i] = d[2 * p + i / 8];
            }
          }
        }
        break;
      }
      case ActKind::Q8_K: {
        quantize_act_q8_k(x, a.cols, const_cast<int8_t*>(a.qs) + t * a.cols,
                          const_cast<float*>(a.d) + t * a.super_blocks(),
                          const_cast<int16_t*>(a.bsums) + t * a.cols / 16);
        break;
      }
    }
  }
}

}  // namespace whale::kernels
