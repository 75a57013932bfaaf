// The differentiable pieces the training networks are built from, each a forward that saves what its backward
// needs and a hand-written backward. Rows are tokens of a packed batch: sequence s occupies rows
// [offset, offset + length). Backward functions ADD into the input and parameter gradients (so residual
// branches and shared weights accumulate), and every parallel split writes disjoint outputs in a fixed
// order, so results do not depend on the thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/rope.h"

namespace whale::train {

// One sequence of a packed batch.
struct Segment {
  int64_t offset = 0;  // first row
  int64_t length = 0;  // rows
};

// `v` as n zeros / n floats of unspecified value, keeping its capacity: step-to-step buffers allocate only when
// a batch is larger than every one before.
inline std::vector<float>& zeroed(std::vector<float>& v, int64_t n) {
  v.assign(static_cast<size_t>(n), 0.0f);
  return v;
}
inline std::vector<float>& sized(std::vector<float>& v, int64_t n) {
  v.resize(static_cast<size_t>(n));
  return v;
}

// y[n, out] = x[n, in] W^T for W {out, in} (the engine's matrix kernel, so forward values match inference).
void linear(const float* w, int64_t out, int64_t in, const float* x, int64_t n, float* y, ThreadPool& pool);
// dx[n, in] += dy W (dx may be null); dw[out, in] += dy^T x.
void linear_backward(const float* w, int64_t out, int64_t in, const float* x, int64_t n, const float* dy, float* dx,
                     float* dw, ThreadPool& pool);

// y = x * rstd * g per row of d values; rstd[r] = 1 / sqrt(mean(x^2) + eps) is saved. y may alias x.
void rmsnorm_rows(const float* x, const float* g, int64_t n, int64_t d, float eps, float* y, float* rstd,
                  ThreadPool* pool = nullptr);
// dx += d/dx, dg += d/dg of the rows (x is the input of the forward).
void rmsnorm_rows_backward(const float* x, const float* g, const float* rstd, int64_t n, int64_t d, const float* dy,
                           float* dx, float* dg, ThreadPool* pool = nullptr);

// Rotary tables for positions 0 .. max_len-1: cos/sin [max_len, dims/2] as Rope::angles gives them.
struct RopeTable {
  const Rope* rope = nullptr;
  std::vector<float> cos, sin, neg_sin;
  int64_t half = 0;
  void ensure(const Rope& r, int64_t max_len);
};
// Rotates the first rope dims of `heads` heads (head h at x + h * head_stride) of every row; rows of segment s
// are at positions 0 .. length-1. x has row stride `row_stride`. inverse = true applies the transpose (the
// backward of the rotation).
void rope_rows(const RopeTable& table, const std::vector<Segment>& segments, float* x, int64_t row_stride,
               int64_t heads, int64_t head_stride, bool inverse);

// Causal multi-head attention inside each segment. q head h at q + t*q_stride + h*dk; kv head h / (heads /
// kv_heads) likewise for k (dk) and v (dv); o head h at o + t*o_stride + h*dv.
struct AttentionDims {
  int64_t heads = 0, kv_heads = 0, dk = 0, dv = 0;
  int64_t q_stride = 0, k_stride = 0, v_stride = 0, o_stride = 0;
  float scale = 1.0f;
};
// Floats of saved probabilities for the segments: sum of heads * length^2.
int64_t attention_probs_size(const AttentionDims& d, const std::vector<Segment>& segments);
void attention_forward(const AttentionDims& d, const std::vector<Segment>& segments, const float* q, const float* k,
                       const float* v, float* o, float* probs, ThreadPool& pool);
// dq, dk, dv += gradients (all sized like q, k, v). scratch: per-thread floats, attention_scratch_size().
void attention_backward(const AttentionDims& d, const std::vector<Segment>& segments, const float* q, const float* k,
                        const float* v, const float* probs, const float* d_o, float* dq, float* dk, float* dv,
                        ThreadPool& pool);

// h = silu(g) * u over n values, and its backward (dg, du += ...).
void swiglu_backward(const float* g, const float* u, const float* dh, int64_t n, float* dg, float* du,
                     ThreadPool& pool);

// A SwiGLU FFN: y = down(silu(gate x) * up x), with its saved activations.
struct SwigluFfn {
  std::vector<float> g, u, h;  // [n, ff]
  void forward(const float* w_gate, const float* w_up, const float* w_down, int64_t hidden, int64_t ff, const float* x,
               int64_t n, float* y, ThreadPool& pool);
  // dx += ..., dw_* += ...; dh / dg / du scratch are the members after the call.
  void backward(const float* w_gate, const float* w_up, const float* w_down, int64_t hidden, int64_t ff, const float* x,
                int64_t n, const float* dy, float* dx, float* dw_gate, float* dw_up, float* dw_down, ThreadPool& pool);
  std::vector<float> dh, dg, du;
};

// Log-softmax over rows of logits [n, vocab], in place into probabilities; returns log p of targets[r]
// (rows with target < 0 give 0).
void log_softmax_rows(float* logits_to_probs, int64_t n, int64_t vocab, const int32_t* targets, float* logp,
                      ThreadPool& pool);

}  // namespace whale::train
