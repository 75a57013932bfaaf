// Model: the interface every architecture implements, and the registry that loads one from a ModelSource.
//
// A model holds views of its weights (memory-mapped, never copied), a reference to the thread pool, and
// scratch buffers sized once at load and at create_cache(). forward() allocates nothing and is not
// re-entrant: one inference thread drives a model (the runtime's scheduler owns it).
//
// Adding an architecture: write models/NAME.cpp with NAME_tensor_specs() and load_NAME_model(), declare
// them in models/architectures.h and add a row to the table in models/model.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "models/config.h"
#include "models/kv_cache.h"

namespace whale {

class ModelSource;
class ThreadPool;

// One expected tensor of an architecture, as llama.cpp names it ("blk.3.attn_q.weight").
enum class TensorKind {
  Matrix,     // a linear weight {out, in} or stacked experts {n_expert, out, in}; quantizable
  Embedding,  // token_embd {vocab, hidden}; quantizable
  Norm,       // RMSNorm gain; random models set it to 1
  Bias,       // linear bias; small random values
  Other,      // anything else kept in f32 (rope_freqs, expert score bias)
};

struct TensorSpec {
  std::string name;
  Shape shape;          // outermost first
  TensorKind kind = TensorKind::Matrix;
  bool required = true; // optional tensors (output.weight when tied) may be absent
};

// Checks that every required spec is present with exactly its shape, and every present optional one has its
// shape. Throws whale::Error "PATH: tensor NAME: expected shape [..], got [..]" or "...: missing".
void validate_tensors(const ModelSource& source, const std::vector<TensorSpec>& specs);

// One sequence's share of a forward call.
//   tokens:    the new tokens, at positions start_pos .. start_pos + tokens.size() - 1.
//   start_pos: <= cache->length(); entries from start_pos on are overwritten.
//   logits:    where to write logits (vocab floats each): empty = none (a prefill chunk whose logits are not
//              needed), vocab_size floats = the last token's, tokens.size() * vocab_size = every token's
//              (speculative verification, perplexity, training evaluation).
struct SequenceBatch {
  std::span<const int32_t> tokens;
  int64_t start_pos = 0;
  KvCache* cache = nullptr;
  std::span<float> logits;
};

struct LoadOptions {
  ThreadPool* pool = nullptr;      // required; the model runs its kernels on it
  int64_t max_batch_tokens = 256;  // scratch is sized for this many tokens per forward step; longer inputs
                                   // are processed in chunks of this size
};

class Model {
 public:
  virtual ~Model() = default;

  const ModelConfig& config() const { return config_; }

  // A KV cache for one sequence of up to `context_length` tokens (the caller chooses it: --ctx, or the
  // model's context capped by memory). Grows the model's scratch for that context if needed.
  virtual std::unique_ptr<KvCache> create_cache(int64_t context_length) = 0;
  // Bytes a cache needs per token (all layers); used to size --ctx and reported by `whale info`.
  virtual size_t kv_bytes_per_token() const = 0;

  // Runs the sequences of `batch` (today one after another; batched decode later). Checks the invariants of
  // SequenceBatch and that start_pos + tokens fits the cache's capacity (whale::Error otherwise).
  virtual void forward(std::span<const SequenceBatch> batch) = 0;

  // One sequence; `logits` as in SequenceBatch.
  void forward(std::span<const int32_t> tokens, int64_t start_pos, KvCache& cache, std::span<float> logits) {
    SequenceBatch one{tokens, start_pos, &cache, logits};
    forward(std::span<const SequenceBatch>(&one, 1));
  }

 protected:
  explicit Model(ModelConfig config) : config_(std::move(config)) {}
  ModelConfig config_;
};

// Architectures whale can load ("llama", "qwen2", "qwen3", "deepseek2").
std::vector<std::string> supported_architectures();

// The tensors an architecture expects for `config` (dispatches on config.arch; throws for unknown ones).
std::vector<TensorSpec> tensor_specs(const ModelConfig& config);

// Parses the config, validates the tensors and builds the model for general.architecture. The model keeps
// `source` alive (its weights point into the source's memory maps). Throws whale::Error for unsupported
// architectures (naming the supported ones), bad configs and missing or mis-shaped tensors.
std::unique_ptr<Model> load_model(std::shared_ptr<const ModelSource> source, const LoadOptions& options);

}  // namespace whale
