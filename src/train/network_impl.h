// Internals of the trainable networks shared by network.cpp, the architecture files (train/dense_net.cpp,
// train/deepseek_net.cpp) and export/checkpoint: the parameter table, the packed batch of the last forward,
// and the pieces every architecture has (token embedding, final norm + output head + log-softmax).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "models/config.h"
#include "train/network.h"
#include "train/ops.h"

namespace whale::train {

// The final RMSNorm, the head and the log-softmax over rows of a residual stream, with what backward needs.
struct HeadState {
  std::vector<float> xn;      // [n, hidden] normed input of the head
  std::vector<float> rstd;    // [n]
  std::vector<float> probs;   // [n, vocab] softmax of the logits
  std::vector<float> logits;  // [n, vocab] raw logits, kept only when asked for
  std::vector<float> logp;    // [n] log p(target) (0 where target < 0)
  std::vector<float> dxn;     // backward buffer
};

class NetworkImpl {
 public:
  explicit NetworkImpl(ModelConfig c) : config(std::move(c)) {}
  virtual ~NetworkImpl() = default;

  ModelConfig config;
  std::vector<Parameter> params;
  std::map<std::string, size_t, std::less<>> index;
  std::unique_ptr<ThreadPool> pool = std::make_unique<ThreadPool>(1);

  // Packed batch of the last forward: all sequences' rows one after another.
  std::vector<int32_t> tokens;   // [rows]
  std::vector<int32_t> targets;  // [rows] the next token in the sequence, -1 at a sequence's last row
  std::vector<Segment> segments;
  int64_t rows = 0;
  bool keep_logits = false;  // HeadState::logits wanted (evaluation / tests)
  HeadState head;

  // Adds one parameter (zero values and gradient).
  Parameter& add(const std::string& name, const Shape& shape, bool decay, bool trainable = true);
  Parameter& param(std::string_view name);
  bool has(std::string_view name) const { return index.find(name) != index.end(); }
  float* w(std::string_view name) { return param(name).value.data(); }
  float* g(std::string_view name) { return param(name).grad.data(); }

  // Packs and validates a batch (token ids in the vocabulary, every sequence at least 2 tokens).
  void pack(const std::vector<std::vector<int32_t>>& batch);

  // Architecture-specific: the forward over the packed batch (fills `head`), and the backward for per-row
  // coefficients (coef[row] multiplies -log p(target[row])). Returns the MTP loss (0 without MTP).
  virtual void forward_packed() = 0;
  virtual float backward_packed(const std::vector<float>& coef, float mtp_weight) = 0;
  // Expert loads of the last forward per MoE layer: name of the layer's score bias -> tokens per expert.
  virtual std::vector<std::pair<std::string, std::vector<int64_t>>> expert_loads() const { return {}; }
  // MTP logits of the last forward ([rows - segments, vocab]); only models with MTP.
  virtual std::vector<float> mtp_logits() const { return {}; }

  // Shared pieces.
  void embed(const std::string& table, const int32_t* ids, int64_t n, float* x);
  void embed_backward(const std::string& table, const int32_t* ids, int64_t n, const float* dx);
  // x [n, hidden] -> head state with log p(targets). `head_weight` is output.weight or the tied embedding.
  void head_forward(const float* x, int64_t n, const std::string& norm, const std::string& head_weight,
                    const int32_t* targets, HeadState& st);
  // dx += d/dx of  -sum_r coef[r] log p(targets[r])  (+ extra_dxn added to the gradient of the normed input).
  void head_backward(HeadState& st, const float* x, int64_t n, const std::string& norm, const std::string& head_weight,
                     const int32_t* targets, const float* coef, const float* extra_dxn, float* dx);
};

// Factories of the architectures.
std::unique_ptr<NetworkImpl> make_dense_network(const ModelConfig& config, bool tied);
std::unique_ptr<NetworkImpl> make_deepseek2_network(const ModelConfig& config);

}  // namespace whale::train
