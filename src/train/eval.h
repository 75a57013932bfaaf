// Evaluation on held-out problems with the inference engine: the model answers each prompt greedily, and K
// times at temperature 1 for pass@1 (the mean accuracy of the samples). Deterministic for a seed: every
// completion has its own sampler seed, so the result does not depend on the number of threads.
//
// EnginePool is the engine side shared with GRPO and distillation: a model file loaded once per worker
// thread (each with a one-thread pool: small models run faster side by side than split across threads),
// generating many prompts in parallel.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "runtime/loaded_model.h"
#include "tokenizer/tokenizer.h"
#include "train/tasks.h"

namespace whale::train {

struct SampleRequest {
  std::vector<int32_t> prompt;
  float temperature = 0.0f;  // 0: greedy
  uint64_t seed = 0;
};

struct Generated {
  std::vector<int32_t> tokens;  // generated ids, including the final EOS when the model wrote one
  std::string text;             // their text without special tokens
  bool finished = false;        // ended by EOS / end of turn (not by max_tokens)
};

class EnginePool {
 public:
  // Throws whale::Error when the file does not load or carries no chat template.
  EnginePool(const std::string& model_path, int threads);
  ~EnginePool();
  EnginePool(const EnginePool&) = delete;
  EnginePool& operator=(const EnginePool&) = delete;

  const Tokenizer& tokenizer() const;
  const ChatTemplate& chat_template() const;
  // One completion per request, in request order.
  std::vector<Generated> generate(const std::vector<SampleRequest>& requests, int64_t max_tokens);

 private:
  struct Worker;
  std::string path_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

// Generated tokens up to and including the "</think>" token (all of them, less a final EOS, when there is none).
int64_t reasoning_token_count(const Tokenizer& tokenizer, const std::vector<int32_t>& tokens);

struct EvalResult {
  int64_t n = 0;
  double greedy_accuracy = 0;
  double pass1 = 0;                  // mean correctness of the temperature-1 samples (0 when samples == 0)
  double mean_reasoning_tokens = 0;  // over the greedy completions
  double format_rate = 0;            // greedy completions with a well-formed think/answer shape
};

struct EvalOptions {
  int64_t n = 500;
  int32_t samples = 0;
  uint64_t seed = 0;
  int threads = 1;
  int64_t max_tokens = 512;  // generated tokens per completion
};

EvalResult evaluate(const std::string& model_path, Task task, const EvalOptions& options);
EvalResult evaluate(const std::string& model_path, Task task, int64_t n, int32_t samples, uint64_t seed, int threads);
// The same with an already loaded pool (GRPO evaluates its policy during training).
EvalResult evaluate(EnginePool& engine, Task task, const EvalOptions& options);

}  // namespace whale::train
