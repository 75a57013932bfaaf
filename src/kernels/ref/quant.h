// Scalar reference conversion between float32 and the storage types of weights (plain floats and the ggml
// block quantizations). These are the spec: optimized kernels are tested against them.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace whale::ref {

// Dequantizes `n` elements of `type` at `src` into `dst`. `n` must be a multiple of the type's block size.
// Every type of DType is supported (F8_E4M3 with a scale of 1; see dequantize_f8_e4m3_blocks for scaled).
void dequantize_row(DType type, const void* src, float* dst, int64_t n);

// Whether quantize_row supports `type`.
bool can_quantize(DType type);
// Quantizes `n` floats into `type` at `dst` (dtype_bytes(type, n) bytes), rounding to nearest. `n` must be a
// multiple of the block size. Supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K (quant_k.cpp).
void quantize_row(DType type, const float* src, void* dst, int64_t n);

// Per-type forms, for kernels that know their type.
void dequantize_row_q4_0(const BlockQ4_0* src, float* dst, int64_t n);
void dequantize_row_q8_0(const BlockQ8_0* src, float* dst, int64_t n);
void dequantize_row_q4_k(const BlockQ4_K* src, float* dst, int64_t n);
void dequantize_row_q5_k(const BlockQ5_K* src, float* dst, int64_t n);
void dequantize_row_q6_k(const BlockQ6_K* src, float* dst, int64_t n);
void quantize_row_q4_0(const float* src, BlockQ4_0* dst, int64_t n);
void quantize_row_q8_0(const float* src, BlockQ8_0* dst, int64_t n);
void quantize_row_q4_k(const float* src, BlockQ4_K* dst, int64_t n);
void quantize_row_q5_k(const float* src, BlockQ5_K* dst, int64_t n);
void quantize_row_q6_k(const float* src, BlockQ6_K* dst, int64_t n);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K super-block's packed `scales`.
void k_quant_scale_min(const uint8_t* scales, int j, uint8_t* scale, uint8_t* min);

// DeepSeek-V3 FP8 weights: `weight` is a float8_e4m3fn matrix [rows, cols]; `scale_inv` is float32
// [ceil(rows/128), ceil(cols/128)]; dst[r, c] = weight[r, c] * scale_inv[r / 128, c / 128].
inline constexpr int64_t kFp8BlockSize = 128;
void dequantize_f8_e4m3_blocks(const uint8_t* weight, const float* scale_inv, int64_t rows, int64_t cols,
                               float* dst);

}  // namespace whale::ref
