// Micro-benchmarks of kernels::attention in the shapes the models run: DeepSeek V3's absorbed MLA (128 query
// heads sharing one latent kv row of 512 + 64 floats, values its first 512) decoding one token against a long
// cache, and R1-Distill-Qwen-1.5B's grouped-query attention (12 heads, 2 kv heads, head dim 128) over a 512-token
// prompt and in decode. Reports GFLOP/s of the q.k and p.v products (2 flops a multiply-add, causal work only).
// Run: build/bench/attention_bench [--benchmark_filter=mla]. WHALE_BENCH_THREADS sets the pool size.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/isa.h"
#include "kernels/ops.h"

namespace whale {
namespace {

ThreadPool& pool() {
  const char* env = std::getenv("WHALE_BENCH_THREADS");
  static ThreadPool p(env != nullptr ? std::atoi(env) : 1);
  return p;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Args: heads, kv_heads, key_dim, value_dim, n_tokens, start_pos, latent (1: v = k, one kv row per position).
void bm_attention(benchmark::State& state, kernels::Isa isa) {
  const int64_t heads = state.range(0), kv = state.range(1), dk = state.range(2), dv = state.range(3);
  const int64_t n = state.range(4), start = state.range(5);
  const bool latent = state.range(6) != 0;
  if (!kernels::set_isa(isa)) {
    state.SkipWithError("ISA not supported");
    return;
  }
  const int64_t ctx = start + n;
  AttentionShape s{heads, kv, dk, dv, heads * dk, kv * dk, latent ? dk : kv * dv, heads * dv};
  std::vector<float> q = random_floats(static_cast<size_t>(n * s.q_stride), 1);
  std::vector<float> k = random_floats(static_cast<size_t>(ctx * s.k_stride), 2);
  std::vector<float> v = latent ? std::vector<float>() : random_floats(static_cast<size_t>(ctx * s.v_stride), 3);
  std::vector<float> out(static_cast<size_t>(n * s.out_stride));
  std::vector<float> scratch(kernels::attention_scratch_floats(ctx, pool()));
  const float* values = latent ? k.data() : v.data();
  for (auto _ : state) {
    kernels::attention(s, q.data(), n, start, k.data(), values, 0.05f, out.data(), scratch.data(), pool());
    benchmark::DoNotOptimize(out.data());
  }
  // Query (token, head) pairs times the keys each sees.
  double pairs = 0;
  for (int64_t t = 0; t < n; ++t) pairs += static_cast<double>(heads) * static_cast<double>(start + t + 1);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * pairs * static_cast<double>(dk + dv),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"heads", "kv", "dk", "dv", "n", "start", "latent"});
  b->Args({128, 1, 576, 512, 1, 4095, 1});   // V3 MLA decode, 4096 positions
  b->Args({16, 1, 576, 512, 1, 4095, 1});    // V2-Lite MLA decode, 4096 positions
  b->Args({16, 1, 576, 512, 512, 0, 1});     // V2-Lite MLA prefill, 512 tokens
  b->Args({12, 2, 128, 128, 512, 0, 0});     // Qwen-1.5B GQA prefill, 512 tokens
  b->Args({12, 2, 128, 128, 1, 4095, 0});    // Qwen-1.5B GQA decode, 4096 positions
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK_CAPTURE(bm_attention, avx512, kernels::Isa::Avx512)->Apply(shapes);
BENCHMARK_CAPTURE(bm_attention, avx2, kernels::Isa::Avx2)->Apply(shapes);
BENCHMARK_CAPTURE(bm_attention, scalar, kernels::Isa::Scalar)->Apply(shapes);

}  // namespace
}  // namespace whale

BENCHMARK_MAIN();
