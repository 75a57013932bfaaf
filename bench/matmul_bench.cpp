// Micro-benchmarks of kernels::matmul per weight type, ISA level and token count, in the shapes of
// R1-Distill-Qwen-1.5B's projections: GB/s of weights (decode) and GMAC/s (prefill).
// Run: build/bench/matmul_bench [--benchmark_filter=q8_0]. WHALE_BENCH_THREADS sets the pool size.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/isa.h"
#include "kernels/ops.h"
#include "kernels/ref/quant.h"

namespace whale {
namespace {

ThreadPool& pool() {
  const char* env = std::getenv("WHALE_BENCH_THREADS");
  static ThreadPool p(env != nullptr ? std::atoi(env) : 1);
  return p;
}

void bm_matmul(benchmark::State& state, DType type, kernels::Isa isa) {
  const int64_t rows = state.range(0), cols = state.range(1), n = state.range(2);
  if (!kernels::set_isa(isa)) {
    state.SkipWithError("ISA not supported");
    return;
  }
  const size_t row_bytes = dtype_bytes(type, static_cast<uint64_t>(cols));
  std::vector<uint8_t> bytes(row_bytes * static_cast<size_t>(rows));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.5f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = dist(rng);
    if (ref::can_quantize(type)) {
      ref::quantize_row(type, row.data(), bytes.data() + r * row_bytes, cols);
    } else {
      for (size_t i = 0; i < row_bytes; ++i) bytes[r * row_bytes + i] = static_cast<uint8_t>(rng() & 0x3f);
    }
  }
  Matrix m{type, rows, cols, bytes.data(), row_bytes};
  std::vector<float> x(static_cast<size_t>(n * cols)), y(static_cast<size_t>(n * rows));
  for (float& v : x) v = dist(rng);
  for (auto _ : state) {
    kernels::matmul(m, x.data(), n, y.data(), pool());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes.size()), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(rows * cols * n),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t n : {1, 64}) {
    b->Args({1536, 1536, n});
    b->Args({8960, 1536, n});
    b->Args({1536, 8960, n});
  }
}

#define WHALE_BENCH_TYPE(name, type)                                                                    \
  BENCHMARK_CAPTURE(bm_matmul, name##_scalar, type, kernels::Isa::Scalar)->Apply(shapes)->UseRealTime(); \
  BENCHMARK_CAPTURE(bm_matmul, name##_avx2, type, kernels::Isa::Avx2)->Apply(shapes)->UseRealTime();     \
  BENCHMARK_CAPTURE(bm_matmul, name##_avx512, type, kernels::Isa::Avx512)->Apply(shapes)->UseRealTime();

WHALE_BENCH_TYPE(q8_0, DType::Q8_0)
WHALE_BENCH_TYPE(q4_0, DType::Q4_0)
WHALE_BENCH_TYPE(q4_k, DType::Q4_K)
WHALE_BENCH_TYPE(q5_k, DType::Q5_K)
WHALE_BENCH_TYPE(q6_k, DType::Q6_K)
WHALE_BENCH_TYPE(f16, DType::F16)
WHALE_BENCH_TYPE(bf16, DType::BF16)
WHALE_BENCH_TYPE(f32, DType::F32)

}  // namespace
}  // namespace whale

BENCHMARK_MAIN();
