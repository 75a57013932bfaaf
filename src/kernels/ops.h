// The kernels models run: matrix products over weights of any storage type, norms, activations, attention.
// Each has a scalar reference in kernels/ref/ops.h with the same contract; these are the faster versions
// (multithreaded over the pool, SIMD chosen at run time, integer weights dotted against quantized
// activations). Kernels know nothing of models: they take plain pointers and shapes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/attention_shape.h"
#include "kernels/matrix.h"

namespace whale::kernels {

// y[t, r] = sum_c W[r, c] * x[t, c] for t < n. x: [n, w.cols]; y: [n, w.rows]; y must not alias x.
// Q8_0 / Q4_0 weights use x quantized to Q8_0 blocks, K-quants x quantized to Q8_K super-blocks (as
// llama.cpp does), so results differ from ref::matmul by that rounding (relative error ~1e-3); float types
// are exact up to summation order. Runs the tile kernels of active_isa() (kernels/isa.h, tiles.h), with
// several tokens sharing each weight load when n > 1. Uses grow-only per-thread buffers for the prepared
// activations (and AVX-512 repacked rows), so it allocates only the first time a larger size is seen.
void matmul(const Matrix& w, const float* x, int64_t n, float* y, ThreadPool& pool);
inline void matvec(const Matrix& w, const float* x, float* y, ThreadPool& pool) { matmul(w, x, 1, y, pool); }
// Row r of W as floats (w.cols values): an embedding lookup.
void get_row(const Matrix& w, int64_t r, float* out);

// out = x / sqrt(mean(x^2) + eps) * weight over n values; out may alias x.
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);
// In place over n values.
void softmax(float* x, int64_t n);
// out[i] = silu(gate[i]) * up[i]; out may alias gate or up.
void swiglu(const float* gate, const float* up, int64_t n, float* out);
// y[i] += x[i].
void add(float* y, const float* x, int64_t n);

// Floats of scratch attention() needs on `pool`: a block of scores and three per-row values per thread, the
// same for any context (the parameter stays so callers size scratch where the context is known).
size_t attention_scratch_floats(int64_t context, const ThreadPool& pool);
// As ref::attention, fused and tiled (ops.cpp): blocks of query rows sharing a kv head against blocks of keys
// with an online softmax, parallel over (kv head, row block). out must not overlap q, k or v; it is written
// as the accumulator. scratch: attention_scratch_floats(start_pos + n_tokens, pool) floats.
void attention(const AttentionShape& shape, const float* q, int64_t n_tokens, int64_t start_pos,
               const float* k, const float* v, float scale, float* out, float* scratch, ThreadPool& pool);

}  // namespace whale::kernels
