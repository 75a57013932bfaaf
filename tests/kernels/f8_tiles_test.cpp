// The SIMD FP8 (float8_e4m3fn with 128x128 block scales) tile kernels against the scalar one on every ISA
// level the machine has: every finite code, rows spanning several scale blocks, and column counts whose tail
// is not a whole 32-byte step (the kernels convert 32 bytes at a time, then 8).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/act.h"
#include "kernels/isa.h"
#include "kernels/ref/quant.h"
#include "kernels/tiles.h"

namespace whale {
namespace {

struct Fp8Case {
  int64_t rows, cols, tokens;
};

void expect_simd_matches_scalar(const Fp8Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> codes(static_cast<size_t>(c.rows * c.cols));
  for (size_t i = 0; i < codes.size(); ++i) {
    // Walk every code in order first (both signs, subnormals, zero), then random ones; skip the NaNs.
    uint8_t b = static_cast<uint8_t>(i < 256 ? i : rng());
    if ((b & 0x7f) == 0x7f) b = 0x3f;
    codes[i] = b;
  }
  const int64_t scale_rows = (c.rows + 127) / 128, scale_cols = (c.cols + 127) / 128;
  std::vector<float> scales(static_cast<size_t>(scale_rows * scale_cols));
  std::uniform_real_distribution<float> scale_dist(0.001f, 0.1f);
  for (float& s : scales) s = scale_dist(rng);
  Matrix m{DType::F8_E4M3, c.rows, c.cols, codes.data(), static_cast<size_t>(c.cols), scales.data(), scale_cols};

  std::normal_distribution<float> x_dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(c.tokens * c.cols));
  for (float& v : x) v = x_dist(rng);
  kernels::ActivationBuffer buffer;
  const kernels::Activations a = buffer.reserve(kernels::activation_kind(DType::F8_E4M3), x.data(), c.tokens, c.cols, true);
  kernels::ActivationBuffer::prepare_range(a, 0, c.tokens);

  std::vector<float> want(static_cast<size_t>(c.tokens * c.rows)), got(want.size());
  kernels::scalar_tiles().f8(m, 0, c.rows, a, 0, c.tokens, want.data(), c.rows);
  for (kernels::Isa isa : {kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (!kernels::set_isa(isa)) continue;
    std::fill(got.begin(), got.end(), NAN);
    kernels::tiles_for(isa).f8(m, 0, c.rows, a, 0, c.tokens, got.data(), c.rows);
    for (int64_t r = 0; r < c.rows; ++r) {
      const float* scale_row = scales.data() + (r / 128) * scale_cols;
      for (int64_t t = 0; t < c.tokens; ++t) {
        double mag = 0.0;
        for (int64_t k = 0; k < c.cols; ++k) {
          mag += std::fabs(f8_e4m3_to_f32(codes[static_cast<size_t>(r * c.cols + k)]) * scale_row[k / 128] *
                           x[static_cast<size_t>(t * c.cols + k)]);
        }
        ASSERT_NEAR(got[static_cast<size_t>(t * c.rows + r)], want[static_cast<size_t>(t * c.rows + r)], 1e-5 * mag + 1e-6)
            << "isa=" << kernels::isa_name(isa) << " rows=" << c.rows << " cols=" << c.cols << " r=" << r << " t=" << t;
      }
    }
  }
}

TEST(F8Tiles, SimdMatchesScalarOnEveryIsa) {
  const kernels::Isa saved = kernels::active_isa();
  // cols 8 and 104: only / partly the 8-byte tail; 168: a full block then 40; 512: whole blocks; rows past 128
  // take the second row of scales. Tokens 1-6 cover every token group.
  for (const Fp8Case& c : {Fp8Case{3, 8, 2}, Fp8Case{37, 104, 5}, Fp8Case{130, 168, 3}, Fp8Case{9, 512, 1},
                           Fp8Case{140, 256, 6}}) {
    expect_simd_matches_scalar(c, static_cast<uint32_t>(c.rows * 1000 + c.cols));
  }
  kernels::set_isa(saved);
}

}  // namespace
}  // namespace whale
