// Matrix products: the reference against a plain double-precision formula, and the fast kernels against the
// reference for every weight type, with one and several tokens and threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/act.h"
#include "kernels/isa.h"
#include "kernels/tiles.h"
#include "kernels/ops.h"
#include "kernels/ref/ops.h"
#include "kernels/ref/quant.h"

namespace whale {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// A weight matrix of `type` holding random values (rows x cols) in its own storage.
struct TestMatrix {
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  Matrix m;
};

TestMatrix make_matrix(DType type, int64_t rows, int64_t cols, uint32_t seed) {
  TestMatrix t;
  const size_t row_bytes = dtype_bytes(type, static_cast<uint64_t>(cols));
  t.bytes.resize(row_bytes * static_cast<size_t>(rows));
  std::mt19937 rng(seed);
  if (ref::can_quantize(type)) {
    std::vector<float> values = random_floats(static_cast<size_t>(rows * cols), seed, 0.5f);
    for (int64_t r = 0; r < rows; ++r) ref::quantize_row(type, values.data() + r * cols, t.bytes.data() + r * row_bytes, cols);
  } else if (type == DType::F8_E4M3) {
    for (uint8_t& b : t.bytes) {
      do b = static_cast<uint8_t>(rng()); while ((b & 0x7f) == 0x7f);
    }
    const int64_t sr = (rows + 127) / 128, sc = (cols + 127) / 128;
    t.scales = random_floats(static_cast<size_t>(sr * sc), seed + 1, 0.01f);
  } else {
    // K-quants: random payload with small positive super-block scales.
    for (uint8_t& b : t.bytes) b = static_cast<uint8_t>(rng());
    const DTypeInfo& info = dtype_info(type);
    for (size_t off = 0; off < t.bytes.size(); off += info.block_bytes) {
      uint8_t* block = t.bytes.data() + off;
      const uint16_t d = f32_to_f16(0.01f), dmin = f32_to_f16(0.005f);
      if (type == DType::Q6_K) {
        std::memcpy(block + info.block_bytes - 2, &d, 2);
      } else {
        std::memcpy(block, &d, 2);
        std::memcpy(block + 2, &dmin, 2);
      }
    }
  }
  t.m.dtype = type;
  t.m.rows = rows;
  t.m.cols = cols;
  t.m.data = t.bytes.data();
  t.m.row_bytes = row_bytes;
  if (!t.scales.empty()) {
    t.m.scale_inv = t.scales.data();
    t.m.scale_cols = (cols + 127) / 128;
  }
  return t;
}

TEST(RefMatmul, MatchesDoubleFormulaOnF32) {
  const int64_t rows = 5, cols = 7, n = 3;
  std::vector<float> w = random_floats(rows * cols, 1);
  std::vector<float> x = random_floats(n * cols, 2);
  Matrix m{DType::F32, rows, cols, reinterpret_cast<const uint8_t*>(w.data()), cols * sizeof(float)};
  std::vector<float> y(n * rows);
  ref::matmul(m, x.data(), n, y.data());
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += static_cast<double>(w[r * cols + c]) * x[t * cols + c];
      EXPECT_NEAR(y[t * rows + r], sum, 1e-5);
    }
  }
}

TEST(RefMatmul, HandComputedQ8_0Row) {
  // One block: d = 0.5, q = [1, 2, ..., 32]; x = all 127 -> 0.5 * 127 * (32 * 33 / 2) = 33528. (127 makes
  // the fast kernel's Q8_0 activations exact: scale 1, quants 127.)
  BlockQ8_0 block;
  block.d = f32_to_f16(0.5f);
  for (int i = 0; i < 32; ++i) block.qs[i] = static_cast<int8_t>(i + 1);
  Matrix m{DType::Q8_0, 1, 32, reinterpret_cast<const uint8_t*>(&block), sizeof(block)};
  std::vector<float> x(32, 127.0f);
  float y = 0;
  ref::matmul(m, x.data(), 1, &y);
  EXPECT_FLOAT_EQ(y, 33528.0f);
  ThreadPool pool(1);
  kernels::matmul(m, x.data(), 1, &y, pool);
  EXPECT_FLOAT_EQ(y, 33528.0f);
}

TEST(RefMatmul, F8BlockScales) {
  // Two row blocks of scales: rows 0..127 use 2.0, rows 128.. use 3.0. 0x38 is 1.0 in e4m3.
  const int64_t rows = 130, cols = 4;
  std::vector<uint8_t> w(rows * cols, 0x38);
  std::vector<float> scales = {2.0f, 3.0f};
  Matrix m{DType::F8_E4M3, rows, cols, w.data(), static_cast<size_t>(cols), scales.data(), 1};
  std::vector<float> x = {1, 2, 3, 4};
  std::vector<float> y(rows);
  ref::matmul(m, x.data(), 1, y.data());
  EXPECT_FLOAT_EQ(y[0], 20.0f);
  EXPECT_FLOAT_EQ(y[127], 20.0f);
  EXPECT_FLOAT_EQ(y[128], 30.0f);
}

struct Case {
  DType type;
  double tolerance;  // relative to the row's sum of |w x|
};

class FastMatmul : public ::testing::TestWithParam<Case> {};

// Every ISA level this machine runs, each against the double-precision reference. Integer types quantize
// the activations (Q8_0 / Q8_K: error at most half a step, max|x| / 254 per element, which bounds the
// result's error by sum |w| * max|x| / 254; for normal data that is under 1e-2 of sum |w x|). BF16 on AVX-512
// with vdpbf16ps splits the activations into two bf16 parts (hi + lo within 2^-17 of x: 1e-5 of sum |w x|
// with float accumulation).
TEST_P(FastMatmul, MatchesReferenceOnEveryIsa) {
  const Case c = GetParam();
  const kernels::Isa saved = kernels::active_isa();
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (!kernels::set_isa(isa)) continue;
    double tolerance = c.tolerance;
    if (c.type == DType::BF16 && isa == kernels::Isa::Avx512 && kernels::has_avx512_bf16()) tolerance = 2e-5;
    for (int threads : {1, 3}) {
      ThreadPool pool(threads);
      for (int64_t n : {1, 5, 70}) {
        const int64_t rows = 67, cols = 512;
        TestMatrix t = make_matrix(c.type, rows, cols, 7);
        std::vector<float> x = random_floats(n * cols, 11);
        std::vector<float> want(n * rows), got(n * rows);
        ref::matmul(t.m, x.data(), n, want.data());
        kernels::matmul(t.m, x.data(), n, got.data(), pool);
        std::vector<float> row(cols);
        for (int64_t r = 0; r < rows; ++r) {
          ref::get_row(t.m, r, row.data());
          for (int64_t tok = 0; tok < n; ++tok) {
            double mag = 0;
            for (int64_t k = 0; k < cols; ++k) mag += std::fabs(row[k] * x[tok * cols + k]);
            ASSERT_NEAR(got[tok * rows + r], want[tok * rows + r], tolerance * mag + 1e-6)
                << dtype_name(c.type) << " isa=" << kernels::isa_name(isa) << " threads=" << threads << " n=" << n
                << " r=" << r;
          }
        }
      }
    }
  }
  kernels::set_isa(saved);
}

INSTANTIATE_TEST_SUITE_P(Types, FastMatmul,
                         ::testing::Values(Case{DType::F32, 1e-6}, Case{DType::F16, 1e-6}, Case{DType::BF16, 1e-6},
                                           Case{DType::Q8_0, 1e-2}, Case{DType::Q4_0, 1e-2},
                                           Case{DType::Q4_K, 1e-2}, Case{DType::Q5_K, 1e-2},
                                           Case{DType::Q6_K, 1e-2}, Case{DType::F8_E4M3, 1e-6}),
                         [](const auto& param_info) { return std::string(dtype_name(param_info.param.type)); });

// The SIMD tile tables against the scalar table on the same prepared activations: the integer dot products
// are exact, so only float summation order differs (relative error ~1e-6 of sum |terms|; 1e-5 allowed).
// Shapes hit every remainder: rows not a multiple of 4, token groups of 1-4, an unpaired Q8_0 block.
TEST(TileTables, SimdMatchesScalarOnSameActivations) {
  const kernels::Isa saved = kernels::active_isa();
  for (kernels::Isa isa : {kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (!kernels::set_isa(isa)) continue;
    for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::F32, DType::F16,
                       DType::BF16, DType::F8_E4M3}) {
      const bool k_quant = type == DType::Q4_K || type == DType::Q5_K || type == DType::Q6_K;
      const int64_t rows = 35, cols = k_quant ? 768 : (type == DType::F32 ? 99 : 96), n = 11;
      TestMatrix t = make_matrix(type, rows, cols, 3);
      std::vector<float> x = random_floats(n * cols, 4);
      kernels::ActivationBuffer buffer;
      const kernels::ActKind kind = kernels::activation_kind(type);
      const kernels::Activations a = buffer.reserve(kind, x.data(), n, cols, true);
      kernels::ActivationBuffer::prepare_range(a, 0, n);
      kernels::Activations scalar_a = a;
      scalar_a.kind = kernels::ActKind::Float;  // the scalar BF16 kernel takes floats (unused by the others)
      std::vector<float> want(n * rows), got(n * rows);
      kernels::scalar_tiles().get(type)(t.m, 0, rows, scalar_a, 0, n, want.data(), rows);
      kernels::tiles_for(isa).get(type)(t.m, 0, rows, a, 0, n, got.data(), rows);
      std::vector<float> row(cols);
      for (int64_t r = 0; r < rows; ++r) {
        ref::get_row(t.m, r, row.data());
        for (int64_t tok = 0; tok < n; ++tok) {
          double mag = 0;
          for (int64_t k = 0; k < cols; ++k) mag += std::fabs(row[k] * x[tok * cols + k]);
          ASSERT_NEAR(got[tok * rows + r], want[tok * rows + r], 1e-5 * mag + 1e-6)
              << dtype_name(type) << " isa=" << kernels::isa_name(isa) << " r=" << r << " t=" << tok;
        }
      }
    }
  }
  kernels::set_isa(saved);
}

// The K-quants below the AVX-512 table's repacking threshold (decode, and the few tokens an MoE expert gets),
// which it runs three tokens at a time through its own kernel, and above it, against the scalar table on the
// same activations: random payloads (every scale and min bit pattern, negative Q6_K scales) as well as
// quantized rows, row counts that are not a multiple of 4 or 16, and token ranges that do not start at 0.
TEST(TileTables, KQuantDecodeMatchesScalar) {
  const kernels::Isa saved = kernels::active_isa();
  for (kernels::Isa isa : {kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (!kernels::set_isa(isa)) continue;
    for (DType type : {DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
      for (bool random_payload : {false, true}) {
        const int64_t rows = 37, cols = 1024, n = 40;
        TestMatrix t = make_matrix(type, rows, cols, 21);
        if (random_payload) {
          std::mt19937 rng(22);
          const DTypeInfo& info = dtype_info(type);
          // Everything but the f16 scales: d (and dmin) lead a Q4_K / Q5_K block and end a Q6_K one.
          const size_t begin = type == DType::Q6_K ? 0 : 4;
          const size_t end = type == DType::Q6_K ? info.block_bytes - 2 : info.block_bytes;
          for (size_t off = 0; off < t.bytes.size(); off += info.block_bytes) {
            for (size_t i = begin; i < end; ++i) t.bytes[off + i] = static_cast<uint8_t>(rng());
          }
        }
        std::vector<float> x = random_floats(n * cols, 23);
        kernels::ActivationBuffer buffer;
        const kernels::Activations a = buffer.reserve(kernels::activation_kind(type), x.data(), n, cols, false);
        kernels::ActivationBuffer::prepare_range(a, 0, n);
        std::vector<float> row(cols);
        for (auto [t0, t1] : {std::pair<int64_t, int64_t>{0, 1}, {0, 2}, {0, 3}, {1, 4}, {3, 4}, {2, 4}, {1, 8},
                              {5, 36}, {0, 40}}) {
          for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, 16}, {16, 37}, {5, 6}, {0, 37}}) {
            std::vector<float> want(n * rows, -1.0f), got(n * rows, -1.0f);
            kernels::scalar_tiles().get(type)(t.m, r0, r1, a, t0, t1, want.data(), rows);
            kernels::tiles_for(isa).get(type)(t.m, r0, r1, a, t0, t1, got.data(), rows);
            for (int64_t r = 0; r < rows; ++r) {
              ref::get_row(t.m, r, row.data());
              for (int64_t tok = 0; tok < n; ++tok) {
                double mag = 0;
                for (int64_t k = 0; k < cols; ++k) mag += std::fabs(row[k] * x[tok * cols + k]);
                ASSERT_NEAR(got[tok * rows + r], want[tok * rows + r], 1e-5 * mag + 1e-6)
                    << dtype_name(type) << " isa=" << kernels::isa_name(isa) << " random=" << random_payload
                    << " rows [" << r0 << ", " << r1 << ") tokens [" << t0 << ", " << t1 << ") r=" << r
                    << " t=" << tok;
              }
            }
          }
        }
      }
    }
  }
  kernels::set_isa(saved);
}

TEST(Isa, NamesAndLimits) {
  EXPECT_EQ(kernels::isa_from_name("avx2"), kernels::Isa::Avx2);
  EXPECT_EQ(kernels::isa_from_name("avx512"), kernels::Isa::Avx512);
  EXPECT_EQ(kernels::isa_from_name("scalar"), kernels::Isa::Scalar);
  EXPECT_FALSE(kernels::isa_from_name("sse9").has_value());
  const kernels::Isa saved = kernels::active_isa();
  EXPECT_TRUE(kernels::set_isa(kernels::Isa::Scalar));
  EXPECT_EQ(kernels::active_isa(), kernels::Isa::Scalar);
  if (kernels::detected_isa() != kernels::Isa::Avx512) {
    EXPECT_FALSE(kernels::set_isa(kernels::Isa::Avx512));
    EXPECT_EQ(kernels::active_isa(), kernels::Isa::Scalar);
  }
  kernels::set_isa(saved);
}

TEST(FastGetRow, MatchesReference) {
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_K}) {
    TestMatrix t = make_matrix(type, 3, 256, 5);
    std::vector<float> want(256), got(256);
    ref::get_row(t.m, 2, want.data());
    kernels::get_row(t.m, 2, got.data());
    for (int i = 0; i < 256; ++i) ASSERT_FLOAT_EQ(got[i], want[i]) << dtype_name(type) << " i=" << i;
  }
}

}  // namespace
}  // namespace whale
