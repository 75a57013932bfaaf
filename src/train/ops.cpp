// Forward and backward of the training networks' building blocks (see ops.h).
#include "train/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/matrix.h"
#include "kernels/ops.h"

namespace whale::train {
namespace {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define WHALE_TRAIN_CLONES __attribute__((target_clones("default", "avx2")))
#else
#define WHALE_TRAIN_CLONES
#endif

// y += a * x over n values.
WHALE_TRAIN_CLONES void axpy(float* __restrict y, const float* __restrict x, float a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

WHALE_TRAIN_CLONES float dot(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float sum = 0.0f;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (int j = 0; j < 16; ++j) sum += acc[j];
  return sum;
}

std::vector<float>& thread_buffer(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer;
}

}  // namespace

void linear(const float* w, int64_t out, int64_t in, const float* x, int64_t n, float* y, ThreadPool& pool) {
  if (n == 0) return;
  Matrix m;
  m.dtype = DType::F32;
  m.rows = out;
  m.cols = in;
  m.data = reinterpret_cast<const uint8_t*>(w);
  m.row_bytes = static_cast<size_t>(in) * sizeof(float);
  kernels::matmul(m, x, n, y, pool);
}

namespace {

// dst [cols, rows] = src [rows, cols]^T, in cache-sized blocks of rows split over the pool.
void transpose(const float* src, int64_t rows, int64_t cols, float* dst, ThreadPool& pool) {
  constexpr int64_t kBlock = 32;
  pool.parallel_for(0, (rows + kBlock - 1) / kBlock, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t r0 = lo * kBlock; r0 < std::min(rows, hi * kBlock); r0 += kBlock) {
      const int64_t r1 = std::min(rows, r0 + kBlock);
      for (int64_t c0 = 0; c0 < cols; c0 += kBlock) {
        const int64_t c1 = std::min(cols, c0 + kBlock);
        for (int64_t r = r0; r < r1; ++r) {
          for (int64_t c = c0; c < c1; ++c) dst[c * rows + r] = src[r * cols + c];
        }
      }
    }
  });
}

// Grow-only buffers of the backward products, one set per calling thread.
struct BackwardBuffers {
  std::vector<float> wt, dyt, xt, product;
  static float* sized(std::vector<float>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    return v.data();
  }
};

}  // namespace

// Both products go through the engine's matrix kernel (blocked, vectorized, split over output rows, each
// output a dot product in a fixed order): dx = dy W is W^T applied to the rows of dy, and dw^T = x^T dy is
// (dy^T) applied to the rows of x^T.
void linear_backward(const float* w, int64_t out, int64_t in, const float* x, int64_t n, const float* dy, float* dx,
                     float* dw, ThreadPool& pool) {
  if (n == 0) return;
  thread_local BackwardBuffers b;
  if (dx != nullptr) {
    float* wt = BackwardBuffers::sized(b.wt, in * out);
    float* product = BackwardBuffers::sized(b.product, n * in);
    transpose(w, out, in, wt, pool);
    linear(wt, in, out, dy, n, product, pool);
    pool.parallel_for(0, n, 16, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo * in; i < hi * in; ++i) dx[i] += product[i];
    });
  }
  if (dw != nullptr) {
    float* dyt = BackwardBuffers::sized(b.dyt, out * n);
    float* xt = BackwardBuffers::sized(b.xt, in * n);
    float* product = BackwardBuffers::sized(b.product, in * out);
    transpose(dy, n, out, dyt, pool);
    transpose(x, n, in, xt, pool);
    linear(dyt, out, n, xt, in, product, pool);  // product [in, out] = dw^T
    pool.parallel_for(0, out, 16, [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) {
        float* row = dw + o * in;
        for (int64_t i = 0; i < in; ++i) row[i] += product[i * out + o];
      }
    });
  }
}

void rmsnorm_rows(const float* x, const float* g, int64_t n, int64_t d, float eps, float* y, float* rstd,
                  ThreadPool* pool) {
  auto rows = [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* xr = x + r * d;
      double ss = 0.0;
      for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(xr[i]) * xr[i];
      // The same arithmetic as kernels::rmsnorm, so the forward matches inference bit for bit.
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(d) + eps));
      rstd[r] = inv;
      float* yr = y + r * d;
      for (int64_t i = 0; i < d; ++i) yr[i] = xr[i] * inv * g[i];
    }
  };
  if (pool != nullptr) {
    pool->parallel_for(0, n, 32, rows);
  } else {
    rows(0, n);
  }
}

void rmsnorm_rows_backward(const float* x, const float* g, const float* rstd, int64_t n, int64_t d, const float* dy,
                           float* dx, float* dg, ThreadPool* pool) {
  auto rows = [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* xr = x + r * d;
      const float* dyr = dy + r * d;
      const float inv = rstd[r];
      double s = 0.0;
      for (int64_t i = 0; i < d; ++i) s += static_cast<double>(dyr[i]) * g[i] * xr[i];
      const float c = static_cast<float>(s * inv * inv * inv / static_cast<double>(d));
      float* dxr = dx + r * d;
      for (int64_t i = 0; i < d; ++i) dxr[i] += inv * g[i] * dyr[i] - c * xr[i];
    }
  };
  if (pool != nullptr) {
    pool->parallel_for(0, n, 32, rows);
  } else {
    rows(0, n);
  }
  // The gain's gradient sums over rows: serially, in row order, so it does not depend on the thread count.
  if (dg != nullptr) {
    for (int64_t r = 0; r < n; ++r) {
      const float* xr = x + r * d;
      const float* dyr = dy + r * d;
      const float inv = rstd[r];
      for (int64_t i = 0; i < d; ++i) dg[i] += dyr[i] * xr[i] * inv;
    }
  }
}

void RopeTable::ensure(const Rope& r, int64_t max_len) {
  half = r.dims() / 2;
  const int64_t have = half > 0 ? static_cast<int64_t>(cos.size()) / half : 0;
  if (rope == &r && have >= max_len) return;
  rope = &r;
  cos.resize(static_cast<size_t>(max_len * half));
  sin.resize(cos.size());
  neg_sin.resize(cos.size());
  for (int64_t p = 0; p < max_len; ++p) r.angles(p, cos.data() + p * half, sin.data() + p * half);
  for (size_t i = 0; i < sin.size(); ++i) neg_sin[i] = -sin[i];
}

void rope_rows(const RopeTable& table, const std::vector<Segment>& segments, float* x, int64_t row_stride,
               int64_t heads, int64_t head_stride, bool inverse) {
  const Rope& r = *table.rope;
  const float* sines = inverse ? table.neg_sin.data() : table.sin.data();
  for (const Segment& s : segments) {
    for (int64_t t = 0; t < s.length; ++t) {
      apply_rope(x + (s.offset + t) * row_stride, heads, head_stride, r.dims(), r.type(),
                 table.cos.data() + t * table.half, sines + t * table.half);
    }
  }
}

int64_t attention_probs_size(const AttentionDims& d, const std::vector<Segment>& segments) {
  int64_t total = 0;
  for (const Segment& s : segments) total += d.heads * s.length * s.length;
  return total;
}

namespace {

std::vector<int64_t> probs_offsets(const AttentionDims& d, const std::vector<Segment>& segments) {
  std::vector<int64_t> offsets(segments.size());
  int64_t total = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    offsets[i] = total;
    total += d.heads * segments[i].length * segments[i].length;
  }
  return offsets;
}

}  // namespace

void attention_forward(const AttentionDims& d, const std::vector<Segment>& segments, const float* q, const float* k,
                       const float* v, float* o, float* probs, ThreadPool& pool) {
  const std::vector<int64_t> offsets = probs_offsets(d, segments);
  const int64_t group = d.heads / d.kv_heads;
  const auto tasks = static_cast<int64_t>(segments.size()) * d.heads;
  pool.parallel_for(0, tasks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t task = lo; task < hi; ++task) {
      const size_t si = static_cast<size_t>(task / d.heads);
      const int64_t h = task % d.heads;
      const int64_t kvh = h / group;
      const Segment& s = segments[si];
      const int64_t len = s.length;
      float* p_head = probs + offsets[si] + h * len * len;
      for (int64_t i = 0; i < len; ++i) {
        const float* qi = q + (s.offset + i) * d.q_stride + h * d.dk;
        float* p = p_head + i * len;
        float max = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) {
          p[j] = d.scale * dot(qi, k + (s.offset + j) * d.k_stride + kvh * d.dk, d.dk);
          max = std::max(max, p[j]);
        }
        float sum = 0.0f;
        for (int64_t j = 0; j <= i; ++j) {
          p[j] = std::exp(p[j] - max);
          sum += p[j];
        }
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j <= i; ++j) p[j] *= inv;
        for (int64_t j = i + 1; j < len; ++j) p[j] = 0.0f;
        float* oi = o + (s.offset + i) * d.o_stride + h * d.dv;
        std::fill(oi, oi + d.dv, 0.0f);
        for (int64_t j = 0; j <= i; ++j) axpy(oi, v + (s.offset + j) * d.v_stride + kvh * d.dv, p[j], d.dv);
      }
    }
  });
}

void attention_backward(const AttentionDims& d, const std::vector<Segment>& segments, const float* q, const float* k,
                        const float* v, const float* probs, const float* d_o, float* dq, float* dk, float* dv,
                        ThreadPool& pool) {
  const std::vector<int64_t> offsets = probs_offsets(d, segments);
  const int64_t group = d.heads / d.kv_heads;
  int64_t max_len = 0;
  for (const Segment& s : segments) max_len = std::max(max_len, s.length);
  // One task per (segment, kv head): the heads sharing a kv head are handled in order by the same task, so
  // the kv gradients are summed in a fixed order.
  const auto tasks = static_cast<int64_t>(segments.size()) * d.kv_heads;
  pool.parallel_for(0, tasks, 1, [&](int64_t lo, int64_t hi) {
    float* ds = thread_buffer(static_cast<size_t>(max_len)).data();
    for (int64_t task = lo; task < hi; ++task) {
      const size_t si = static_cast<size_t>(task / d.kv_heads);
      const int64_t kvh = task % d.kv_heads;
      const Segment& s = segments[si];
      const int64_t len = s.length;
      for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
        const float* p_head = probs + offsets[si] + h * len * len;
        for (int64_t i = 0; i < len; ++i) {
          const float* p = p_head + i * len;
          const float* doi = d_o + (s.offset + i) * d.o_stride + h * d.dv;
          double pd = 0.0;
          for (int64_t j = 0; j <= i; ++j) {
            ds[j] = dot(doi, v + (s.offset + j) * d.v_stride + kvh * d.dv, d.dv);
            pd += static_cast<double>(p[j]) * ds[j];
          }
          const float pdf = static_cast<float>(pd);
          const float* qi = q + (s.offset + i) * d.q_stride + h * d.dk;
          float* dqi = dq + (s.offset + i) * d.q_stride + h * d.dk;
          for (int64_t j = 0; j <= i; ++j) {
            const float g = p[j] * (ds[j] - pdf) * d.scale;
            const int64_t row = s.offset + j;
            axpy(dv + row * d.v_stride + kvh * d.dv, doi, p[j], d.dv);
            if (g != 0.0f) {
              axpy(dqi, k + row * d.k_stride + kvh * d.dk, g, d.dk);
              axpy(dk + row * d.k_stride + kvh * d.dk, qi, g, d.dk);
            }
          }
        }
      }
    }
  });
}

void swiglu_backward(const float* g, const float* u, const float* dh, int64_t n, float* dg, float* du,
                     ThreadPool& pool) {
  pool.parallel_for(0, n, 4096, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float s = 1.0f / (1.0f + std::exp(-g[i]));
      const float silu = g[i] * s;
      du[i] += dh[i] * silu;
      dg[i] += dh[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    }
  });
}

void SwigluFfn::forward(const float* w_gate, const float* w_up, const float* w_down, int64_t hidden, int64_t ff,
                        const float* x, int64_t n, float* y, ThreadPool& pool) {
  const auto size = static_cast<size_t>(n * ff);
  g.resize(size);
  u.resize(size);
  h.resize(size);
  linear(w_gate, ff, hidden, x, n, g.data(), pool);
  linear(w_up, ff, hidden, x, n, u.data(), pool);
  // kernels::swiglu is what inference runs; the same expression keeps the two in step.
  pool.parallel_for(0, n, 16, [&](int64_t lo, int64_t hi) {
    kernels::swiglu(g.data() + lo * ff, u.data() + lo * ff, (hi - lo) * ff, h.data() + lo * ff);
  });
  linear(w_down, hidden, ff, h.data(), n, y, pool);
}

void SwigluFfn::backward(const float* w_gate, const float* w_up, const float* w_down, int64_t hidden, int64_t ff,
                         const float* x, int64_t n, const float* dy, float* dx, float* dw_gate, float* dw_up,
                         float* dw_down, ThreadPool& pool) {
  const auto size = static_cast<size_t>(n * ff);
  dh.assign(size, 0.0f);
  dg.assign(size, 0.0f);
  du.assign(size, 0.0f);
  linear_backward(w_down, hidden, ff, h.data(), n, dy, dh.data(), dw_down, pool);
  swiglu_backward(g.data(), u.data(), dh.data(), n * ff, dg.data(), du.data(), pool);
  linear_backward(w_gate, ff, hidden, x, n, dg.data(), dx, dw_gate, pool);
  linear_backward(w_up, ff, hidden, x, n, du.data(), dx, dw_up, pool);
}

void log_softmax_rows(float* logits, int64_t n, int64_t vocab, const int32_t* targets, float* logp, ThreadPool& pool) {
  pool.parallel_for(0, n, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      float* x = logits + r * vocab;
      float max = -INFINITY;
      for (int64_t i = 0; i < vocab; ++i) max = std::max(max, x[i]);
      const int32_t target = targets[r];
      const float shifted_target = target >= 0 ? x[target] - max : 0.0f;
      double sum = 0.0;
      for (int64_t i = 0; i < vocab; ++i) {
        x[i] = std::exp(x[i] - max);
        sum += x[i];
      }
      logp[r] = target >= 0 ? static_cast<float>(shifted_target - std::log(sum)) : 0.0f;
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t i = 0; i < vocab; ++i) x[i] *= inv;
    }
  });
}

}  // namespace whale::train
