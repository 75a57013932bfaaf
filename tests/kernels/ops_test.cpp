// Element-wise kernels and attention: hand-computed cases, the reference against double-precision formulas,
// and the fast kernels against the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/isa.h"
#include "kernels/ops.h"
#include "kernels/ref/ops.h"

namespace whale {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(RmsNorm, HandComputed) {
  // mean(x^2) = (1 + 4 + 9 + 16) / 4 = 7.5
  const float x[4] = {1, 2, 3, 4};
  const float w[4] = {1, 1, 2, 0.5f};
  float out[4];
  ref::rmsnorm(x, w, 4, 0.0f, out);
  const double inv = 1.0 / std::sqrt(7.5);
  EXPECT_NEAR(out[0], 1 * inv, 1e-6);
  EXPECT_NEAR(out[2], 3 * inv * 2, 1e-6);
  EXPECT_NEAR(out[3], 4 * inv * 0.5, 1e-6);
  float fast[4];
  kernels::rmsnorm(x, w, 4, 0.0f, fast);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(fast[i], out[i], 1e-6);
}

TEST(RmsNorm, EpsilonAndRandom) {
  std::vector<float> x = random_floats(1536, 3), w = random_floats(1536, 4);
  std::vector<float> a(1536), b(1536);
  ref::rmsnorm(x.data(), w.data(), 1536, 1e-5f, a.data());
  kernels::rmsnorm(x.data(), w.data(), 1536, 1e-5f, b.data());
  double ss = 0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double inv = 1.0 / std::sqrt(ss / 1536 + 1e-5);
  for (int i = 0; i < 1536; ++i) {
    EXPECT_NEAR(a[i], x[i] * inv * w[i], 1e-5);
    EXPECT_NEAR(b[i], a[i], 1e-5);
  }
  // Zero input with eps: zeros, no NaN.
  std::vector<float> zeros(8, 0.0f), ones(8, 1.0f), out(8);
  kernels::rmsnorm(zeros.data(), ones.data(), 8, 1e-6f, out.data());
  for (float v : out) EXPECT_EQ(v, 0.0f);
}

TEST(Softmax, HandComputed) {
  float x[3] = {0.0f, std::log(2.0f), std::log(3.0f)};
  ref::softmax(x, 3);
  EXPECT_NEAR(x[0], 1.0 / 6, 1e-6);
  EXPECT_NEAR(x[1], 2.0 / 6, 1e-6);
  EXPECT_NEAR(x[2], 3.0 / 6, 1e-6);
  // Large values do not overflow.
  float big[2] = {1000.0f, 1000.0f};
  kernels::softmax(big, 2);
  EXPECT_FLOAT_EQ(big[0], 0.5f);
  EXPECT_FLOAT_EQ(big[1], 0.5f);
}

TEST(Softmax, FastMatchesReference) {
  std::vector<float> a = random_floats(1000, 9, 5.0f);
  std::vector<float> b = a;
  ref::softmax(a.data(), 1000);
  kernels::softmax(b.data(), 1000);
  for (int i = 0; i < 1000; ++i) EXPECT_NEAR(b[i], a[i], 1e-5 * a[i] + 1e-9);
}

TEST(Swiglu, HandComputedAndFast) {
  EXPECT_FLOAT_EQ(ref::silu(0.0f), 0.0f);
  EXPECT_NEAR(ref::silu(1.0f), 1.0 / (1.0 + std::exp(-1.0)), 1e-7);
  EXPECT_NEAR(ref::silu(-20.0f), -20.0 / (1.0 + std::exp(20.0)), 1e-9);
  std::vector<float> g = random_floats(300, 1, 3.0f), u = random_floats(300, 2);
  std::vector<float> a(300), b(300);
  ref::swiglu(g.data(), u.data(), 300, a.data());
  kernels::swiglu(g.data(), u.data(), 300, b.data());
  for (int i = 0; i < 300; ++i) {
    const double want = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
    EXPECT_NEAR(a[i], want, 1e-6);
    EXPECT_NEAR(b[i], a[i], 1e-5 * (1 + std::fabs(a[i])));
  }
}

TEST(Attention, OneHotKeysPickTheirValue) {
  // 4 positions, key p = large one-hot at dim p; the query at position 3 points at dim 1, so the output is
  // (almost exactly) value 1. Position 0's query only sees key 0.
  AttentionShape s{1, 1, 4, 2, 4, 4, 2, 2};
  std::vector<float> k(16, 0.0f), v = {10, 11, 20, 21, 30, 31, 40, 41};
  for (int p = 0; p < 4; ++p) k[p * 4 + p] = 1.0f;
  std::vector<float> q(16, 0.0f);
  q[0 * 4 + 2] = 50.0f;  // token 0 (position 0) asks for key 2, which it cannot see yet
  q[3 * 4 + 1] = 50.0f;  // token 3 asks for key 1
  std::vector<float> out(8);
  ref::attention(s, q.data(), 4, 0, k.data(), v.data(), 1.0f, out.data());
  EXPECT_NEAR(out[0], 10, 1e-4);
  EXPECT_NEAR(out[1], 11, 1e-4);
  EXPECT_NEAR(out[6], 20, 1e-4);
  EXPECT_NEAR(out[7], 21, 1e-4);
}

TEST(Attention, GroupedQueryMatchesDoubleFormulaAndFast) {
  // 6 query heads over 2 kv heads, 3 new tokens after 5 cached ones.
  const int64_t heads = 6, kv = 2, dk = 16, dv = 8, start = 5, n = 3, ctx = start + n;
  AttentionShape s{heads, kv, dk, dv, heads * dk, kv * dk, kv * dv, heads * dv};
  std::vector<float> q = random_floats(n * heads * dk, 1), k = random_floats(ctx * kv * dk, 2),
                     v = random_floats(ctx * kv * dv, 3);
  const float scale = 0.25f;
  std::vector<float> want(n * heads * dv), got(n * heads * dv);
  ref::attention(s, q.data(), n, start, k.data(), v.data(), scale, want.data());
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t g = h / (heads / kv);
      std::vector<double> p(static_cast<size_t>(start + t + 1));
      double sum = 0;
      for (int64_t j = 0; j <= start + t; ++j) {
        double d = 0;
        for (int64_t i = 0; i < dk; ++i) d += static_cast<double>(q[(t * heads + h) * dk + i]) * k[(j * kv + g) * dk + i];
        p[j] = std::exp(d * scale);
        sum += p[j];
      }
      for (int64_t i = 0; i < dv; ++i) {
        double o = 0;
        for (int64_t j = 0; j <= start + t; ++j) o += p[j] / sum * v[(j * kv + g) * dv + i];
        EXPECT_NEAR(want[(t * heads + h) * dv + i], o, 1e-5);
      }
    }
  }
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<float> scratch(kernels::attention_scratch_floats(ctx, pool));
    kernels::attention(s, q.data(), n, start, k.data(), v.data(), scale, got.data(), scratch.data(), pool);
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5) << "threads=" << threads;
  }
}

// The fast attention on every ISA level against the reference, in widths that use the SIMD paths (head
// dims of 128 and 40: full vectors and a tail; 21-25 positions: eight-wide exp blocks and a tail). The
// vectorized exp has relative error < 2e-7, so results agree to float rounding.
TEST(Attention, FastMatchesReferenceOnEveryIsa) {
  const kernels::Isa saved = kernels::active_isa();
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (!kernels::set_isa(isa)) continue;
    for (int64_t dv : {128, 40}) {
      const int64_t heads = 4, kv = 2, dk = 128, start = 20, n = 5, ctx = start + n;
      AttentionShape s{heads, kv, dk, dv, heads * dk, kv * dk, kv * dv, heads * dv};
      std::vector<float> q = random_floats(n * heads * dk, 7), k = random_floats(ctx * kv * dk, 8),
                         v = random_floats(ctx * kv * dv, 9);
      std::vector<float> want(n * heads * dv), got(n * heads * dv);
      ref::attention(s, q.data(), n, start, k.data(), v.data(), 0.09f, want.data());
      ThreadPool pool(2);
      std::vector<float> scratch(kernels::attention_scratch_floats(ctx, pool));
      kernels::attention(s, q.data(), n, start, k.data(), v.data(), 0.09f, got.data(), scratch.data(), pool);
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], want[i], 2e-5) << kernels::isa_name(isa) << " dv=" << dv << " i=" << i;
      }
    }
  }
  kernels::set_isa(saved);
}

// The tiled attention (ops.cpp: blocks of 64 query rows against blocks of 64 keys, online softmax) against
// the reference on every ISA level, in the shapes the models run and around the block edges: multi-head,
// grouped-query with groups of 2, 6 and 7 (row blocks then split tokens' heads), and MLA's latent layout
// (one kv head, keys [c | pe] of 576 floats, values the first 512 of the same rows, v = k) with 16 and 128
// heads; one token, 7, and 130 (several row and key blocks, with the causal mask inside them), from position
// 0 and from 77; odd head dims exercise the SIMD tails. The output starts as NaN, so every element must be
// written. Each reference is computed once and compared with every level and pool size.
TEST(Attention, TiledMatchesReferenceOnEveryIsa) {
  struct Case {
    const char* name;
    int64_t heads, kv, dk, dv;
    bool latent;
  };
  const Case cases[] = {
      {"mha", 4, 4, 64, 64, false},        {"gqa2", 4, 2, 128, 128, false},  {"gqa6", 12, 2, 128, 128, false},
      {"gqa7", 14, 2, 40, 37, false},      {"mla16", 16, 1, 576, 512, true}, {"mla128", 128, 1, 576, 512, true},
      {"latent-odd", 6, 1, 19, 13, true},
  };
  const kernels::Isa saved = kernels::active_isa();
  for (const Case& c : cases) {
    for (int64_t n : {1, 7, 130}) {
      if (c.heads == 128 && n > 7) continue;  // the double-precision reference would dominate the suite
      for (int64_t start : {0, 77}) {
        const int64_t ctx = start + n;
        AttentionShape s{c.heads, c.kv, c.dk, c.dv, c.heads * c.dk, c.kv * c.dk, c.latent ? c.dk : c.kv * c.dv,
                         c.heads * c.dv};
        std::vector<float> q = random_floats(n * s.q_stride, 11, 0.3f), k = random_floats(ctx * s.k_stride, 12);
        std::vector<float> v = c.latent ? std::vector<float>() : random_floats(ctx * s.v_stride, 13);
        const float* values = c.latent ? k.data() : v.data();
        std::vector<float> want(n * s.out_stride);
        ref::attention(s, q.data(), n, start, k.data(), values, 0.3f, want.data());
        for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512}) {
          if (!kernels::set_isa(isa)) continue;
          for (int threads : {1, 3}) {
            ThreadPool pool(threads);
            std::vector<float> scratch(kernels::attention_scratch_floats(ctx, pool));
            std::vector<float> got(want.size(), std::nanf(""));
            kernels::attention(s, q.data(), n, start, k.data(), values, 0.3f, got.data(), scratch.data(), pool);
            for (size_t i = 0; i < got.size(); ++i) {
              ASSERT_NEAR(got[i], want[i], 2e-5 * (1.0 + std::fabs(want[i])))
                  << c.name << " " << kernels::isa_name(isa) << " n=" << n << " start=" << start
                  << " threads=" << threads << " i=" << i;
            }
          }
        }
      }
    }
  }
  kernels::set_isa(saved);
}

// A case whose answer fits in a comment: one-hot queries and keys, so query token t at position t scores
// key p as 2 if p % 3 == t % 3 and 0 otherwise; with values v_p = p, the output is the mean of positions
// 0..t weighted e^2 or 1. Spans several key blocks (150 positions), so a mask or rescale error in any block
// (even one future key let in) moves the mean well past the tolerance.
TEST(Attention, OneHotKeysGiveKnownMeans) {
  const int64_t n = 150, dk = 3;
  AttentionShape s{1, 1, dk, 1, dk, dk, 1, 1};
  std::vector<float> q(n * dk, 0.0f), k(n * dk, 0.0f), v(n);
  for (int64_t p = 0; p < n; ++p) {
    q[p * dk + p % 3] = 2.0f;
    k[p * dk + p % 3] = 1.0f;
    v[p] = static_cast<float>(p);
  }
  const kernels::Isa saved = kernels::active_isa();
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (!kernels::set_isa(isa)) continue;
    ThreadPool pool(2);
    std::vector<float> scratch(kernels::attention_scratch_floats(n, pool));
    std::vector<float> out(n);
    kernels::attention(s, q.data(), n, 0, k.data(), v.data(), 1.0f, out.data(), scratch.data(), pool);
    for (int64_t t = 0; t < n; ++t) {
      // Positions p <= t with p % 3 == t % 3 weigh e^2, the others 1.
      double num = 0, den = 0;
      for (int64_t p = 0; p <= t; ++p) {
        const double w = p % 3 == t % 3 ? std::exp(2.0) : 1.0;
        num += w * static_cast<double>(p);
        den += w;
      }
      ASSERT_NEAR(out[t], num / den, 1e-4 * (1.0 + num / den)) << kernels::isa_name(isa) << " t=" << t;
    }
  }
  kernels::set_isa(saved);
}

TEST(Attention, LatentLayoutValuesArePrefixOfKeys) {
  // MLA-style: one kv head whose key row is [c (4) | pe (2)] and whose value is c, the row's prefix.
  const int64_t heads = 3, kd = 6, vd = 4, ctx = 5;
  AttentionShape s{heads, 1, kd, vd, heads * kd, kd, kd, heads * vd};
  std::vector<float> q = random_floats(heads * kd, 4), kv = random_floats(ctx * kd, 5);
  std::vector<float> values(ctx * vd);
  for (int64_t p = 0; p < ctx; ++p) {
    for (int64_t i = 0; i < vd; ++i) values[p * vd + i] = kv[p * kd + i];
  }
  AttentionShape dense = s;
  dense.v_stride = vd;
  std::vector<float> a(heads * vd), b(heads * vd);
  ref::attention(s, q.data(), 1, ctx - 1, kv.data(), kv.data(), 0.3f, a.data());
  ref::attention(dense, q.data(), 1, ctx - 1, kv.data(), values.data(), 0.3f, b.data());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6);
}

}  // namespace
}  // namespace whale
