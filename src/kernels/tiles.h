// Tile kernels: y[t * ldy + r] = dot(row r of W, token t) for rows [r0, r1) and tokens [t0, t1), over
// activations prepared by act.h for the weight's type. One table per ISA level; matmul.cpp splits a product
// into tiles over the pool and picks the table of active_isa(). The scalar table is the reference the SIMD
// ones are tested against (same activations, so they differ only by float summation order).
#pragma once

#include <cstdint>

#include "kernels/act.h"
#include "kernels/isa.h"
#include "kernels/matrix.h"

namespace whale::kernels {

using TileFn = void (*)(const Matrix& w, int64_t r0, int64_t r1, const Activations& a, int64_t t0, int64_t t1,
                        float* y, int64_t ldy);

struct TileTable {
  TileFn q8_0 = nullptr;
  TileFn q4_0 = nullptr;
  TileFn q4_k = nullptr;
  TileFn q5_k = nullptr;
  TileFn q6_k = nullptr;
  TileFn f32 = nullptr;
  TileFn f16 = nullptr;
  TileFn bf16 = nullptr;  // takes ActKind::Bf16 activations in the AVX-512 table when the CPU has BF16
  TileFn f8 = nullptr;    // F8_E4M3 with its 128x128 block scales

  TileFn get(DType type) const;
};

const TileTable& scalar_tiles();
const TileTable& avx2_tiles();
const TileTable& avx512_tiles();
const TileTable& tiles_for(Isa isa);

// One Q4_K / Q5_K / Q6_K super-block as unsigned quants q[256] in element order and, per group of 32 (Q4_K,
// Q5_K) or 16 (Q6_K) elements, value = scale * q - min. Returns the group size. AVX2 code (tiles_avx2.cpp):
// call only when the CPU has AVX2; the AVX-512 K-quant prefill uses it to repack rows.
int unpack_k_block(DType type, const uint8_t* block, uint8_t* q, float* scale, float* min);

}  // namespace whale::kernels
