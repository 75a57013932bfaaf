// Multi-head Latent Attention (DeepSeek-V2 section 2.1), for the n rows of one pass through a block.
//
//   q       = W_q h                 or W_qb rmsnorm(W_qa h)            [heads, nope + rope]
//   [c; k]  = W_kva h;  c_kv = rmsnorm(c);  k_pe = rope(k)              cached: [c_kv | k_pe] per position
//   q_pe    = rope(q[:, nope:])
//   absorbed:   q_lat_i = W_uk_i^T q_nope_i;  a = softmax(scale (q_lat_i . c_kv + q_pe_i . k_pe))
//               o_i = W_uv_i (a . c_kv)
//   unabsorbed: k_i = [W_uk_i c_kv | k_pe], v_i = W_uv_i c_kv for every cached position
//               o_i = softmax(scale q_i . k_i) . v_i
//   out     = W_o [o_1 .. o_heads]
// Both forms compute the same function ((W_uk^T q) . c = q . (W_uk c) and W_uv (a . c) = a . (W_uv c)).
//
// W_uk / W_uv come in two layouts: llama.cpp's split attn_k_b [heads, kv_lora, nope] (= W_uk^T per head)
// and attn_v_b [heads, v_head, kv_lora], or the checkpoint's kv_b [heads * (nope + v_head), kv_lora]
// whose per-head rows are W_uk then W_uv. Products a layout gives in its natural orientation use the matrix
// kernel; the transposed ones walk dequantized rows (get_row), which keeps the weights in the memory map.
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "kernels/ops.h"
#include "models/deepseek2_model.h"

namespace whale {
namespace {

// y[t, j] = sum_c W[first + j, c] x[t, c] for j < count: rows of a weight times vectors.
void rows_times(const Matrix& w, int64_t first, int64_t count, const float* x, int64_t x_stride, int64_t n,
                float* y, int64_t y_stride, float* row) {
  for (int64_t j = 0; j < count; ++j) {
    kernels::get_row(w, first + j, row);
    for (int64_t t = 0; t < n; ++t) {
      const float* xt = x + t * x_stride;
      float acc = 0.0f;
      for (int64_t c = 0; c < w.cols; ++c) acc += row[c] * xt[c];
      y[t * y_stride + j] = acc;
    }
  }
}

// y[t, c] = sum_j W[first + j, c] x[t, j] for j < count: the transpose of rows_times.
void rows_transposed_times(const Matrix& w, int64_t first, int64_t count, const float* x, int64_t x_stride,
                           int64_t n, float* y, int64_t y_stride, float* row) {
  for (int64_t t = 0; t < n; ++t) std::fill(y + t * y_stride, y + t * y_stride + w.cols, 0.0f);
  for (int64_t j = 0; j < count; ++j) {
    kernels::get_row(w, first + j, row);
    for (int64_t t = 0; t < n; ++t) {
      const float a = x[t * x_stride + j];
      float* yt = y + t * y_stride;
      for (int64_t c = 0; c < w.cols; ++c) yt[c] += a * row[c];
    }
  }
}

// y = W x for n strided vectors through the matrix kernel (gathering into / scattering from `in` / `out`).
void matrix_times(const Matrix& w, const float* x, int64_t x_stride, int64_t n, float* y, int64_t y_stride,
                  float* in, float* out, ThreadPool& inline_pool) {
  for (int64_t t = 0; t < n; ++t) std::memcpy(in + t * w.cols, x + t * x_stride, sizeof(float) * w.cols);
  kernels::matmul(w, in, n, out, inline_pool);
  for (int64_t t = 0; t < n; ++t) std::memcpy(y + t * y_stride, out + t * w.rows, sizeof(float) * w.rows);
}

struct Dims {
  int64_t heads, nope, rope, qk, rank, v, row;
  explicit Dims(const ModelConfig& c)
      : heads(c.head_count),
        nope(c.qk_nope_head_dim),
        rope(c.qk_rope_head_dim),
        qk(c.qk_nope_head_dim + c.qk_rope_head_dim),
        rank(c.kv_lora_rank),
        v(c.v_head_dim),
        row(c.kv_lora_rank + c.qk_rope_head_dim) {}
};

// Per-thread slices of the head buffers.
struct HeadBuffers {
  float* in;
  float* out;
  float* row;
};

HeadBuffers head_buffers(Deepseek2Model::State& st, int thread) {
  Deepseek2Scratch& s = st.s;
  const size_t in = s.head_in.size() / static_cast<size_t>(st.pool->size());
  const size_t out = s.head_out.size() / static_cast<size_t>(st.pool->size());
  const size_t row = s.row_buffers.size() / static_cast<size_t>(st.pool->size());
  return {s.head_in.data() + thread * in, s.head_out.data() + thread * out, s.row_buffers.data() + thread * row};
}

void absorbed(Deepseek2Model::State& st, const Dims& d, const Deepseek2Block& b, int64_t layer,
              std::span<const Segment> segments, int64_t n) {
  Deepseek2Scratch& s = st.s;
  const int64_t q_stride = d.heads * d.qk;
  const int64_t abs_stride = d.heads * d.row;
  // q_lat = W_uk^T q_nope per head, next to the head's rotated q_pe.
  st.pool->parallel_for(0, d.heads, 1, [&](int64_t lo, int64_t hi, int thread) {
    HeadBuffers buf = head_buffers(st, thread);
    for (int64_t h = lo; h < hi; ++h) {
      const float* q_nope = s.q.data() + h * d.qk;
      float* q_lat = s.q_abs.data() + h * d.row;
      if (!b.k_b.empty()) {
        matrix_times(b.k_b[h], q_nope, q_stride, n, q_lat, abs_stride, buf.in, buf.out, *st.inline_pools[thread]);
      } else {
        rows_transposed_times(b.kv_b, h * (d.nope + d.v), d.nope, q_nope, q_stride, n, q_lat, abs_stride, buf.row);
      }
      for (int64_t t = 0; t < n; ++t) {
        std::memcpy(q_lat + t * abs_stride + d.rank, q_nope + t * q_stride + d.nope, sizeof(float) * d.rope);
      }
    }
  });
  // Multi-query attention over the latent cache: keys [c_kv | k_pe], values c_kv (the same rows).
  AttentionShape shape;
  shape.heads = d.heads;
  shape.kv_heads = 1;
  shape.key_dim = d.row;
  shape.value_dim = d.rank;
  shape.q_stride = abs_stride;
  shape.k_stride = d.row;
  shape.v_stride = d.row;
  shape.out_stride = d.heads * d.rank;
  for (const Segment& seg : segments) {
    const float* cache_layer = static_cast<Deepseek2Cache&>(*seg.cache).layer(layer);
    kernels::attention(shape, s.q_abs.data() + seg.row * abs_stride, seg.len, seg.pos, cache_layer, cache_layer,
                       st.softmax_scale, s.lat.data() + seg.row * shape.out_stride, s.attention.data(), *st.pool);
  }
  // o = W_uv (a . c_kv) per head.
  st.pool->parallel_for(0, d.heads, 1, [&](int64_t lo, int64_t hi, int thread) {
    HeadBuffers buf = head_buffers(st, thread);
    for (int64_t h = lo; h < hi; ++h) {
      const float* lat = s.lat.data() + h * d.rank;
      float* o = s.o_cat.data() + h * d.v;
      if (!b.v_b.empty()) {
        matrix_times(b.v_b[h], lat, d.heads * d.rank, n, o, d.heads * d.v, buf.in, buf.out, *st.inline_pools[thread]);
      } else {
        rows_times(b.kv_b, h * (d.nope + d.v) + d.nope, d.v, lat, d.heads * d.rank, n, o, d.heads * d.v, buf.row);
      }
    }
  });
}

// One segment: rows [row, row + n) of the pass at positions start_pos...
void unabsorbed(Deepseek2Model::State& st, const Dims& d, const Deepseek2Block& b, const float* cache_layer,
                int64_t row, int64_t n, int64_t start_pos) {
  Deepseek2Scratch& s = st.s;
  const int64_t positions = start_pos + n;
  const int64_t k_stride = d.heads * d.qk;
  const int64_t v_stride = d.heads * d.v;
  // The textbook form is for tests and comparisons; its per-context buffers are sized on first use.
  if (static_cast<int64_t>(s.k_full.size()) < positions * k_stride) {
    s.k_full.resize(static_cast<size_t>(std::max(positions, s.context) * k_stride));
    s.v_full.resize(static_cast<size_t>(std::max(positions, s.context) * v_stride));
  }
  // Expand every cached position: k_i = [W_uk_i c_kv | k_pe], v_i = W_uv_i c_kv.
  st.pool->parallel_for(0, d.heads, 1, [&](int64_t lo, int64_t hi, int thread) {
    HeadBuffers buf = head_buffers(st, thread);
    for (int64_t h = lo; h < hi; ++h) {
      float* k = s.k_full.data() + h * d.qk;
      float* v = s.v_full.data() + h * d.v;
      if (!b.k_b.empty()) {
        rows_transposed_times(b.k_b[h], 0, d.rank, cache_layer, d.row, positions, k, k_stride, buf.row);
        rows_times(b.v_b[h], 0, d.v, cache_layer, d.row, positions, v, v_stride, buf.row);
      } else {
        const int64_t first = h * (d.nope + d.v);
        rows_times(b.kv_b, first, d.nope, cache_layer, d.row, positions, k, k_stride, buf.row);
        rows_times(b.kv_b, first + d.nope, d.v, cache_layer, d.row, positions, v, v_stride, buf.row);
      }
      for (int64_t p = 0; p < positions; ++p) {
        std::memcpy(k + p * k_stride + d.nope, cache_layer + p * d.row + d.rank, sizeof(float) * d.rope);
      }
    }
  });
  AttentionShape shape;
  shape.heads = d.heads;
  shape.kv_heads = d.heads;
  shape.key_dim = d.qk;
  shape.value_dim = d.v;
  shape.q_stride = d.heads * d.qk;
  shape.k_stride = k_stride;
  shape.v_stride = v_stride;
  shape.out_stride = d.heads * d.v;
  kernels::attention(shape, s.q.data() + row * shape.q_stride, n, start_pos, s.k_full.data(), s.v_full.data(),
                     st.softmax_scale, s.o_cat.data() + row * shape.out_stride, s.attention.data(), *st.pool);
}

}  // namespace

void mla_attention(Deepseek2Model::State& st, const ModelConfig& c, int64_t layer, std::span<const Segment> segments,
                   const float* xn, int64_t n, MlaMode mode, float* out) {
  const Deepseek2Block& b = st.blocks[layer];
  Deepseek2Scratch& s = st.s;
  ThreadPool& pool = *st.pool;
  const Dims d(c);
  const int64_t half = d.rope / 2;

  if (present(b.q)) {
    kernels::matmul(b.q, xn, n, s.q.data(), pool);
  } else {
    kernels::matmul(b.q_a, xn, n, s.qa.data(), pool);
    for (int64_t t = 0; t < n; ++t) {
      float* qa = s.qa.data() + t * c.q_lora_rank;
      kernels::rmsnorm(qa, b.q_a_norm.data(), c.q_lora_rank, c.rms_norm_eps, qa);
    }
    kernels::matmul(b.q_b, s.qa.data(), n, s.q.data(), pool);
  }
  kernels::matmul(b.kv_a, xn, n, s.kva.data(), pool);

  for (const Segment& seg : segments) {
    float* cache_layer = static_cast<Deepseek2Cache&>(*seg.cache).layer(layer);
    for (int64_t t = seg.row; t < seg.row + seg.len; ++t) {
      const int64_t pos = seg.pos + (t - seg.row);
      float* cos = s.cos.data() + t * half;
      float* sin = s.sin.data() + t * half;
      st.rope.angles(pos, cos, sin);
      const float* kva = s.kva.data() + t * d.row;
      float* row = cache_layer + pos * d.row;
      kernels::rmsnorm(kva, b.kv_a_norm.data(), d.rank, c.rms_norm_eps, row);
      std::memcpy(row + d.rank, kva + d.rank, sizeof(float) * d.rope);
      apply_rope(row + d.rank, 1, d.rope, d.rope, st.rope.type(), cos, sin);
      apply_rope(s.q.data() + t * d.heads * d.qk + d.nope, d.heads, d.qk, d.rope, st.rope.type(), cos, sin);
    }
  }

  if (mode == MlaMode::Absorbed) {
    absorbed(st, d, b, layer, segments, n);
  } else {
    for (const Segment& seg : segments) {
      unabsorbed(st, d, b, static_cast<Deepseek2Cache&>(*seg.cache).layer(layer), seg.row, seg.len, seg.pos);
    }
  }
  kernels::matmul(b.o, s.o_cat.data(), n, out, pool);
}

}  // namespace whale
