// Activations prepared once per matrix product for the integer and bf16 dot products of the tile kernels:
// quantized to Q8_0 blocks (for Q8_0 / Q4_0 weights) or Q8_K super-blocks (for the K-quants), as llama.cpp
// does, with the per-block sums the kernels need to undo their unsigned offsets. Every row of an input gets
// the same treatment, so a token's result does not depend on which other tokens share the call.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace whale::kernels {

// How a weight type wants its activations.
enum class ActKind {
  Float,  // x as given (F32, F16, F8, and BF16 without AVX512_BF16)
  Bf16,   // x split into two bf16 parts, hi + lo (BF16 weights on CPUs with vdpbf16ps)
  Q8_0,   // blocks of 32: int8 qs, scale d (rounded through f16 as the Q8_0 format stores it), sum of qs
  Q8_K,   // super-blocks of 256: int8 qs, float scale d, sums of each 16 qs
};

// A view of prepared activations for n tokens of `cols` values; row t of each array at t * (its per-token
// count). Fields not used by `kind` are null.
struct Activations {
  ActKind kind = ActKind::Float;
  int64_t n = 0;
  int64_t cols = 0;
  const float* x = nullptr;        // [n, cols]
  // Bf16: [n, cols] each. hi = bf16(x), lo = bf16(x - hi): hi + lo is x within 2^-17 relative, so two
  // vdpbf16ps (which multiply exactly and sum in float) give nearly float accuracy.
  const uint16_t* bf16 = nullptr;
  const uint16_t* bf16_lo = nullptr;
  const int8_t* qs = nullptr;      // Q8_0, Q8_K: [n, cols]
  const float* d = nullptr;        // Q8_0: [n, cols / 32]; Q8_K: [n, cols / 256]
  const int32_t* sums = nullptr;   // Q8_0: [n, cols / 32], sum of the block's qs
  const int16_t* bsums = nullptr;  // Q8_K: [n, cols / 16], sum of each 16 qs
  // Q8_0 with the AVX-512 kernels: per pair of blocks p, 16 int32 lanes holding -128 * sums[2p] in lane 0
  // and -128 * sums[2p + 1] in lane 8 (the start value of a vpdpbusd over weights offset by +128), and 16
  // floats, d[2p] in lanes 0-7 and d[2p + 1] in lanes 8-15. [n, cols / 64, 16] each.
  const int32_t* offsets = nullptr;
  const float* dvec = nullptr;

  int64_t blocks() const { return cols / 32; }
  int64_t super_blocks() const { return cols / 256; }
  int64_t pairs() const { return cols / 64; }
};

// The activation kind the kernels take for `type` at the active ISA.
ActKind activation_kind(DType type);

// Grow-only storage for prepared activations; one per inference thread (thread_local in matmul.cpp).
class ActivationBuffer {
 public:
  ~ActivationBuffer();
  // Prepares x [n, cols] for `kind` (cols a multiple of 32, of 256 for Q8_K); `with_pairs` also fills
  // offsets/dvec (AVX-512 Q8_0). Quantizes tokens [t0, t1) only when called through prepare_range, so the
  // work can be split over a pool: reserve() first, then prepare_range() on each share.
  Activations reserve(ActKind kind, const float* x, int64_t n, int64_t cols, bool with_pairs);
  static void prepare_range(const Activations& a, int64_t t0, int64_t t1);

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

// Scalar quantizers behind prepare_range, one token (cols values) each.
void quantize_act_q8_0(const float* x, int64_t cols, int8_t* qs, float* d, int32_t* sums);
void quantize_act_q8_k(const float* x, int64_t cols, int8_t* qs, float* d, int16_t* bsums);

}  // namespace whale::kernels
