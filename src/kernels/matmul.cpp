// Matrix products over weights of any storage type (see ops.h), the hot loop of inference.
//
// Rows of W are split across the pool. Within a chunk of rows, tokens are walked in tiles so the tile's
// activations stay in cache while each weight row is read once per tile. Q8_0 weights take integer dot
// products against activations quantized to Q8_0; F32 rows are dotted directly; every other type is first
// dequantized into a per-thread row buffer. The inner dot products are compiled twice (baseline x86-64 and
// AVX2) and chosen at load time through GCC's target_clones, until the SIMD dispatch of the speed issue.
#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/ops.h"
#include "kernels/ref/ops.h"
#include "kernels/ref/quant.h"

namespace whale::kernels {
namespace {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define WHALE_CLONES __attribute__((target_clones("default", "avx2")))
#else
#define WHALE_CLONES
#endif

constexpr int64_t kTokenTile = 16;
constexpr int64_t kRowGrain = 8;

// f16 -> f32 without branches (so loops over it vectorize): the exponent is rebased by a float multiply,
// which also handles subnormals. Infinities/NaNs are not preserved, which weights never contain.
inline float half_to_float(uint16_t h) {
  const uint32_t magnitude = static_cast<uint32_t>(h & 0x7fffu) << 13;
  const float scaled = std::bit_cast<float>(magnitude) * 0x1p112f;
  return std::bit_cast<float>(std::bit_cast<uint32_t>(scaled) | (static_cast<uint32_t>(h & 0x8000u) << 16));
}

WHALE_CLONES float dot_f32(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float sum = 0.0f;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (int j = 0; j < 16; ++j) sum += acc[j];
  return sum;
}

WHALE_CLONES float dot_q8_0(const BlockQ8_0* w, const BlockQ8_0* x, int64_t blocks) {
  float sum = 0.0f;
  for (int64_t b = 0; b < blocks; ++b) {
    int32_t dot = 0;
    for (size_t i = 0; i < kQK8_0; ++i) dot += static_cast<int32_t>(w[b].qs[i]) * static_cast<int32_t>(x[b].qs[i]);
    sum += half_to_float(w[b].d) * half_to_float(x[b].d) * static_cast<float>(dot);
  }
  return sum;
}

WHALE_CLONES void f16_row(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float(src[i]);
}

WHALE_CLONES void bf16_row(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = std::bit_cast<float>(static_cast<uint32_t>(src[i]) << 16);
}

// Row r of w as floats into `out` (for types that are not dotted in place).
void dequantize(const Matrix& w, int64_t r, float* out) {
  const uint8_t* src = w.row(r);
  switch (w.dtype) {
    case DType::F16: f16_row(reinterpret_cast<const uint16_t*>(src), out, w.cols); break;
    case DType::BF16: bf16_row(reinterpret_cast<const uint16_t*>(src), out, w.cols); break;
    default: ref::get_row(w, r, out); break;
  }
}

// Grow-only per-thread buffers: they allocate when a thread first meets a wider matrix, never per call.
std::vector<float>& row_buffer(int64_t cols) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < static_cast<size_t>(cols)) buffer.resize(static_cast<size_t>(cols));
  return buffer;
}

std::vector<BlockQ8_0>& q8_buffer(int64_t blocks) {
  thread_local std::vector<BlockQ8_0> buffer;
  if (buffer.size() < static_cast<size_t>(blocks)) buffer.resize(static_cast<size_t>(blocks));
  return buffer;
}

void matmul_q8_0(const Matrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  const int64_t blocks = w.cols / static_cast<int64_t>(kQK8_0);
  std::vector<BlockQ8_0>& xq = q8_buffer(n * blocks);
  BlockQ8_0* xq_data = xq.data();
  pool.parallel_for(0, n, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) ref::quantize_row_q8_0(x + t * w.cols, xq_data + t * blocks, w.cols);
  });
  pool.parallel_for(0, w.rows, kRowGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t t0 = 0; t0 < n; t0 += kTokenTile) {
      const int64_t t1 = std::min(n, t0 + kTokenTile);
      for (int64_t r = lo; r < hi; ++r) {
        const auto* wr = reinterpret_cast<const BlockQ8_0*>(w.row(r));
        for (int64_t t = t0; t < t1; ++t) y[t * w.rows + r] = dot_q8_0(wr, xq_data + t * blocks, blocks);
      }
    }
  });
}

void matmul_float_rows(const Matrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  pool.parallel_for(0, w.rows, kRowGrain, [&](int64_t lo, int64_t hi) {
    float* buffer = w.dtype == DType::F32 ? nullptr : row_buffer(w.cols).data();
    for (int64_t t0 = 0; t0 < n; t0 += kTokenTile) {
      const int64_t t1 = std::min(n, t0 + kTokenTile);
      for (int64_t r = lo; r < hi; ++r) {
        const float* row = reinterpret_cast<const float*>(w.row(r));
        if (buffer != nullptr) {
          dequantize(w, r, buffer);
          row = buffer;
        }
        for (int64_t t = t0; t < t1; ++t) y[t * w.rows + r] = dot_f32(row, x + t * w.cols, w.cols);
      }
    }
  });
}

}  // namespace

void matmul(const Matrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  WHALE_ASSERT(n >= 0);
  if (n == 0 || w.rows == 0) return;
  if (w.dtype == DType::Q8_0) {
    matmul_q8_0(w, x, n, y, pool);
  } else {
    matmul_float_rows(w, x, n, y, pool);
  }
}

void get_row(const Matrix& w, int64_t r, float* out) {
  WHALE_ASSERT(r >= 0 && r < w.rows);
  if (w.dtype == DType::F32) {
    std::memcpy(out, w.row(r), static_cast<size_t>(w.cols) * sizeof(float));
  } else {
    dequantize(w, r, out);
  }
}

}  // namespace whale::kernels
