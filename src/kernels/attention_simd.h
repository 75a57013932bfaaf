// The tile kernels of the fused attention (ops.cpp): one set per ISA level, chosen by active_isa(). The
// driver in ops.cpp owns the blocking, the causal mask and the online softmax; these do the arithmetic on
// one block of query rows against one block of key positions.
#pragma once

#include <cstdint>

namespace whale::kernels {

struct AttentionTiles {
  // s[i * ld + j] = (q[i] . (k + j * k_stride)) * scale for i < rows, j < keys; each q[i] holds dim floats.
  void (*scores)(const float* const* q, int64_t rows, const float* k, int64_t k_stride, int64_t keys, int64_t dim,
                 float scale, float* s, int64_t ld);
  // x[j] = e^(x[j] - max) for j < n, where every x[j] <= max; returns the sum of the new x[j].
  float (*exp_sum)(float* x, int64_t n, float max);
  // o[i] = o[i] * alpha[i] + sum_j p[i * ld + j] * (v + j * v_stride) for i < rows, j < keys, over dim floats.
  void (*accumulate)(float* const* o, const float* alpha, int64_t rows, const float* p, int64_t ld, const float* v,
                     int64_t v_stride, int64_t keys, int64_t dim);
};

// Plain C++ (the scalar level; the compiler's baseline vectorization at most).
const AttentionTiles& attention_tiles_scalar();
// AVX2 + FMA: use only when the CPU has them (active_isa() >= Isa::Avx2).
const AttentionTiles& attention_tiles_avx2();
// AVX-512 F: use only when active_isa() == Isa::Avx512.
const AttentionTiles& attention_tiles_avx512();

}  // namespace whale::kernels
