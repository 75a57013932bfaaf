// SIMD inner loops of attention (ops.cpp dispatches to them by active_isa()).
#pragma once

#include <cstdint>

namespace whale::kernels {

// One query head q [key_dim] against positions 0..len-1 of k (row p at p * k_stride) and v (p * v_stride):
// out [value_dim] = softmax(q . k_p * scale) weighted sum of v_p. `scores` holds len floats of scratch.
// AVX2 + FMA: call only when the CPU has them.
void attention_head_avx2(const float* q, const float* k, int64_t k_stride, const float* v, int64_t v_stride,
                         int64_t len, int64_t key_dim, int64_t value_dim, float scale, float* scores, float* out);

}  // namespace whale::kernels
