// Matrix products over weights of any storage type (see ops.h), the hot loop of inference.
//
// Activations are prepared once per call (act.h: quantized to Q8_0 / Q8_K blocks for the integer types),
// split over the pool by token. Rows of W are then split across the pool in blocks of kRowBlock rows (small
// enough to stay in L2 while every token of the call streams past them), and the tile kernels of the active
// ISA (tiles.h) keep a few rows in registers against a few tokens at a time, so a weight is read from memory
// once per call rather than once per token.
#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/act.h"
#include "kernels/ops.h"
#include "kernels/ref/ops.h"
#include "kernels/ref/quant.h"
#include "kernels/tiles.h"

namespace whale::kernels {
namespace {

constexpr int64_t kRowBlock = 16;
// Tokens per tile call: large, because an AVX-512 Q8_0 tile repacks its rows once per call (tiles_avx512.cpp);
// the kernels walk their tokens in register-sized groups themselves.
constexpr int64_t kTokenBlock = 1024;

// f16 -> f32 without branches (so loops over it vectorize): the exponent is rebased by a float multiply,
// which also handles subnormals. Infinities/NaNs are not preserved, which weights never contain.
inline float half_to_float(uint16_t h) {
  const uint32_t magnitude = static_cast<uint32_t>(h & 0x7fffu) << 13;
  const float scaled = std::bit_cast<float>(magnitude) * 0x1p112f;
  return std::bit_cast<float>(std::bit_cast<uint32_t>(scaled) | (static_cast<uint32_t>(h & 0x8000u) << 16));
}

// Row r of w as floats into `out`.
void dequantize(const Matrix& w, int64_t r, float* out) {
  const uint8_t* src = w.row(r);
  switch (w.dtype) {
    case DType::F16: {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < w.cols; ++i) out[i] = half_to_float(h[i]);
      break;
    }
    case DType::BF16: {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < w.cols; ++i) out[i] = std::bit_cast<float>(static_cast<uint32_t>(h[i]) << 16);
      break;
    }
    default: ref::get_row(w, r, out); break;
  }
}

}  // namespace

void matmul(const Matrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  WHALE_ASSERT(n >= 0);
  if (n == 0 || w.rows == 0) return;
  const Isa isa = active_isa();
  const TileFn tile = tiles_for(isa).get(w.dtype);
  WHALE_ASSERT(tile != nullptr);
  // Grow-only, one per inference thread: allocates only when a call needs more than any before it.
  thread_local ActivationBuffer buffer;
  const ActKind kind = activation_kind(w.dtype);
  // The AVX-512 Q8_0 pair layout serves only its kernel for rows left over after the 16-row blocks when
  // several tokens share the call (tiles_avx512.cpp); decode and whole blocks do not read it.
  const bool pairs = isa == Isa::Avx512 && w.dtype == DType::Q8_0 && n >= 4 && w.rows % 16 != 0;
  const Activations a = buffer.reserve(kind, x, n, w.cols, pairs);
  if (kind != ActKind::Float) {
    pool.parallel_for(0, n, 1, [&](int64_t lo, int64_t hi) { ActivationBuffer::prepare_range(a, lo, hi); });
  }
  const int64_t ldy = w.rows;
  // Shares are whole row blocks, so tile kernels see blocks aligned to kRowBlock.
  const int64_t row_blocks = (w.rows + kRowBlock - 1) / kRowBlock;
  pool.parallel_for(0, row_blocks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t r0 = lo * kRowBlock; r0 < std::min(w.rows, hi * kRowBlock); r0 += kRowBlock) {
      const int64_t r1 = std::min(w.rows, r0 + kRowBlock);
      for (int64_t t0 = 0; t0 < n; t0 += kTokenBlock) tile(w, r0, r1, a, t0, std::min(n, t0 + kTokenBlock), y, ldy);
    }
  });
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
