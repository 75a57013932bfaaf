// Element-wise kernels and attention (see ops.h). The element-wise ones are plain loops the compiler
// vectorizes. Attention is fused and tiled, flash-attention style: for kv head g, the query rows that read it
// (every token times the heads of g's group, token-major) form a matrix, processed in blocks of kRowBlock rows
// against blocks of kKeyBlock key positions. Per key block: S = Q K^T * scale, the causal mask, an online
// softmax (running max m and sum l per row, the earlier output rescaled by e^(m_old - m_new)) and O += P V,
// accumulated straight in the output rows; a final division by l. Each key block is read once per row block
// rather than once per (token, head), which for MLA's 128 heads over one latent row is 64x less cache traffic.
// Jobs are (kv head, row block) pairs on the pool, the row blocks made small enough that every thread has one.
// The arithmetic is the ISA level's tiles (attention_simd.h).
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "kernels/attention_simd.h"
#include "kernels/isa.h"
#include "kernels/ops.h"

namespace whale::kernels {
namespace {

constexpr int64_t kRowBlock = 64;  // query rows per job: their q rows and outputs stay in L2
constexpr int64_t kKeyBlock = 64;  // key positions per step: a block of K (and V) stays in L2
constexpr int64_t kMinRows = 4;    // rows per block at least when splitting for threads: one full tile
// Per thread: the scores block and three per-row values (running max, running sum, rescale factor).
constexpr int64_t kThreadScratch = kRowBlock * kKeyBlock + 3 * kRowBlock;

const AttentionTiles& tiles_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return attention_tiles_avx512();
    case Isa::Avx2: return attention_tiles_avx2();
    case Isa::Scalar: break;
  }
  return attention_tiles_scalar();
}

}  // namespace

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * inv * weight[i];
}

void softmax(float* x, int64_t n) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

size_t attention_scratch_floats(int64_t /*context*/, const ThreadPool& pool) {
  return static_cast<size_t>(kThreadScratch) * static_cast<size_t>(pool.size());
}

void attention(const AttentionShape& s, const float* q, int64_t n_tokens, int64_t start_pos, const float* k,
               const float* v, float scale, float* out, float* scratch, ThreadPool& pool) {
  WHALE_ASSERT(s.kv_heads > 0 && s.heads % s.kv_heads == 0);
  if (n_tokens <= 0) return;
  const AttentionTiles& tiles = tiles_for(active_isa());
  const int64_t group = s.heads / s.kv_heads;
  const int64_t rows = n_tokens * group;  // query rows per kv head: row r is token r / group, head r % group
  // Fewest blocks of at most kRowBlock rows, but at least one job per thread while blocks keep a full tile.
  int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  const int64_t wanted = (pool.size() + s.kv_heads - 1) / s.kv_heads;
  if (blocks < wanted) blocks = std::min(wanted, (rows + kMinRows - 1) / kMinRows);
  const int64_t block_rows = (rows + blocks - 1) / blocks;
  blocks = (rows + block_rows - 1) / block_rows;
  pool.parallel_for(0, s.kv_heads * blocks, 1, [&](int64_t lo, int64_t hi, int thread) {
    // [kRowBlock, kKeyBlock] scores, then the per-row values.
    float* scores = scratch + static_cast<size_t>(thread) * static_cast<size_t>(kThreadScratch);
    float* row_max = scores + kRowBlock * kKeyBlock;  // m per row
    float* row_sum = row_max + kRowBlock;              // l per row
    float* alpha = row_sum + kRowBlock;                // e^(m_old - m_new) per row, this key block
    const float* q_rows[kRowBlock];
    float* o_rows[kRowBlock];
    int64_t last_key[kRowBlock];  // the causal limit: the row's own position
    for (int64_t job = lo; job < hi; ++job) {
      // The last blocks (latest tokens, the most keys) first, so the long jobs do not finish the pass alone.
      const int64_t g = job / blocks;
      const int64_t b = blocks - 1 - job % blocks;
      const int64_t first = b * block_rows;
      const int64_t n = std::min(block_rows, rows - first);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t t = (first + i) / group;
        const int64_t h = g * group + (first + i) % group;
        q_rows[i] = q + t * s.q_stride + h * s.key_dim;
        o_rows[i] = out + t * s.out_stride + h * s.value_dim;
        std::fill(o_rows[i], o_rows[i] + s.value_dim, 0.0f);
        last_key[i] = start_pos + t;
        row_max[i] = -std::numeric_limits<float>::infinity();
        row_sum[i] = 0.0f;
      }
      const float* kg = k + g * s.key_dim;
      const float* vg = v + g * s.value_dim;
      const int64_t keys = last_key[n - 1] + 1;  // rows are token-major: the last row sees the most keys
      for (int64_t k0 = 0; k0 < keys; k0 += kKeyBlock) {
        const int64_t nk = std::min(kKeyBlock, keys - k0);
        tiles.scores(q_rows, n, kg + k0 * s.k_stride, s.k_stride, nk, s.key_dim, scale, scores, kKeyBlock);
        for (int64_t i = 0; i < n; ++i) {
          float* si = scores + i * kKeyBlock;
          const int64_t visible = std::min(nk, last_key[i] - k0 + 1);
          if (visible <= 0) {  // the whole block is in this row's future
            alpha[i] = 1.0f;
            std::fill(si, si + nk, 0.0f);
            continue;
          }
          const float block_max = *std::max_element(si, si + visible);
          const float new_max = std::max(row_max[i], block_max);
          alpha[i] = std::exp(row_max[i] - new_max);  // 0 on the first block (m = -inf), when O is still 0
          const float sum = tiles.exp_sum(si, visible, new_max);
          std::fill(si + visible, si + nk, 0.0f);
          row_sum[i] = row_sum[i] * alpha[i] + sum;
          row_max[i] = new_max;
        }
        tiles.accumulate(o_rows, alpha, n, scores, kKeyBlock, vg + k0 * s.v_stride, s.v_stride, nk, s.value_dim);
      }
      // Key 0 is visible to every row and its block's max term is e^0, so l >= 1.
      for (int64_t i = 0; i < n; ++i) {
        const float inv = 1.0f / row_sum[i];
        for (int64_t c = 0; c < s.value_dim; ++c) o_rows[i][c] *= inv;
      }
    }
  });
}

}  // namespace whale::kernels
