// Trainable networks for the architectures the engine runs ("qwen2" dense, "deepseek2" with MLA, DeepSeekMoE
// and an optional MTP block), with hand-written backward passes, AdamW, the learning-rate schedule, GGUF
// export and checkpoints. Parameters are f32 and named / shaped exactly as the GGUF tensors, so export is a
// plain write and the engine's forward over the exported file computes the same logits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "models/config.h"

namespace whale::train {

// One named parameter with its gradient (shape outermost first, as the GGUF tensor).
struct Parameter {
  std::string name;
  Shape shape;
  std::vector<float> value;
  std::vector<float> grad;
  bool decay = true;      // AdamW weight decay applies (matrices and embeddings; not norms or biases)
  bool trainable = true;  // false for the expert score-correction bias (moved by update_expert_bias only)
};

class NetworkImpl;

// A trainable model of an architecture the engine runs: "qwen2" (dense) or "deepseek2" (MLA, DeepSeekMoE with
// shared + routed experts, sigmoid routing with a score-correction bias updated without an auxiliary loss,
// optional MTP block). Parameters in f32, named and shaped exactly as the GGUF tensors (llama.cpp names, see
// models/*_specs / tensor_specs(config)), so export is a plain write.
class Network {
 public:
  static Network create(const ModelConfig& config, uint64_t seed);  // random init (deterministic)
  // qwen2 only: tie_embeddings = false gives the head its own output.weight (create() ties: the head reuses
  // token_embd, as the small Qwen2 models do). deepseek2 never ties.
  static Network create(const ModelConfig& config, uint64_t seed, bool tie_embeddings);
  static Network load(const std::string& gguf_path);  // F32/F16/BF16/Q8_0 GGUF -> f32 params
  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;
  ~Network();

  const ModelConfig& config() const;
  int64_t parameter_count() const;
  void set_threads(int threads);

  // Forward over whole sequences; returns for each sequence s and each t in [0, len-2] the log-probability
  // log p(seq[t+1] | seq[0..t]). Keeps what backward needs.
  std::vector<std::vector<float>> forward(const std::vector<std::vector<int32_t>>& batch);
  // Accumulates parameter gradients of  L = -sum_{s,t} coef[s][t] * logp[s][t]  (so coef = 1/N on answer
  // tokens gives the mean cross-entropy) for the last forward, plus mtp_weight * the MTP loss on the
  // positions where coef != 0 (deepseek2 with MTP only). Returns the MTP loss (0 when none).
  // The MTP loss at position t is -coef[s][t+1] * log p_mtp(seq[t+2] | seq[0..t], seq[t+1]) summed over t.
  float backward(const std::vector<std::vector<float>>& coef, float mtp_weight = 0.3f);
  void zero_grad();
  float clip_grad_norm(float max_norm);  // global L2 norm before clipping
  // DeepSeek-V3's auxiliary-loss-free balancing: nudges each layer's expert score bias by `rate` against the
  // expert load counted in the last forward (bias += rate * sign(mean_load - load)).
  void update_expert_bias(float rate);

  // Logits of the main head for one sequence, [len, vocab] (evaluation and tests).
  std::vector<float> logits(const std::vector<int32_t>& tokens);
  // Logits of the MTP block for one sequence, [len - 1, vocab]: row t predicts tokens[t + 2] from
  // tokens[0..t+1] (the last row has no target). Only deepseek2 with MTP.
  std::vector<float> mtp_logits(const std::vector<int32_t>& tokens);

  std::vector<Parameter>& parameters();
  const std::vector<Parameter>& parameters() const;
  Parameter* find(const std::string& name);

 private:
  explicit Network(std::unique_ptr<NetworkImpl> impl);
  std::unique_ptr<NetworkImpl> impl_;
};

// AdamW keeps a pointer to the network it was made for: keep that Network object in place while the optimizer
// is used.
class AdamW {
 public:
  AdamW(Network& network, float beta1 = 0.9f, float beta2 = 0.95f, float eps = 1e-8f, float weight_decay = 0.1f);
  // One update of every trainable parameter from its accumulated gradient (decoupled weight decay lr * wd).
  void step(float lr);
  int64_t steps() const { return t_; }

  // State for checkpoints: the step count and the first / second moments, one vector per parameter.
  int64_t t_ = 0;
  std::vector<std::vector<float>> m_, v_;

 private:
  Network* network_;
  float beta1_, beta2_, eps_, weight_decay_;
};

// Linear warmup from 0 to peak over `warmup` steps, then cosine decay to `floor` at `total`.
float cosine_lr(int64_t step, int64_t warmup, int64_t total, float peak, float floor);

// GGUF the engine and llama.cpp load: the params (F32, or Q8_0 for matrices) + the tokenizer (HF JSON texts,
// written through tokenizer/gguf_vocab.h add_tokenizer_to_gguf) + the chat template. Empty tokenizer_json
// writes no tokenizer (tests).
void save_gguf(const Network& network, const std::string& tokenizer_json, const std::string& tokenizer_config_json,
               const std::string& path, DType matrix_type = DType::F32);

// Checkpoint with resume: params, optimizer moments, step, and an opaque blob (the caller's RNG / data state).
void save_checkpoint(const std::string& path, const Network& network, const AdamW& optimizer, int64_t step,
                     const std::string& blob);
int64_t load_checkpoint(const std::string& path, Network& network, AdamW& optimizer, std::string& blob);

// Model configs of the shipped models for a vocabulary size: "nano-r1" (deepseek2, MLA + MoE + MTP) and
// "nano-r1-distill" (qwen2 dense, under a third of nano-r1's parameters). Throws whale::Error for unknown names.
ModelConfig train_preset(const std::string& name, int64_t vocab_size);
std::vector<std::string> train_preset_names();

}  // namespace whale::train
