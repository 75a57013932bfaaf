// ToyModel and ToyEngine: a tiny deterministic stand-in for a real model, used by tests of the scheduler and
// the HTTP layer (and by `whale serve --toy`). Tokens are bytes (0..255) plus four specials; the "KV cache"
// keeps a running hash of the sequence per position, so anything the scheduler gets wrong about positions or
// reuse changes the output.
//
// Logits: printable ASCII gets a pseudo-random score in [0, 3) from the hash of the whole sequence so far;
// when `script` is set, the next byte of the script (counted from the last <|assistant|> token), or EOS at its
// end, gets 15 (far above the noise), so greedy decoding answers "<think>\n...</think>\n\n..." like a reasoning model.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "models/model.h"
#include "server/engine.h"

namespace whale::server {

namespace toy_token {
constexpr int32_t kSystem = 256;
constexpr int32_t kUser = 257;
constexpr int32_t kAssistant = 258;
constexpr int32_t kEnd = 259;  // end of generation
constexpr int32_t kVocab = 260;
}  // namespace toy_token

struct ToyOptions {
  bool script = true;                       // follow the scripted answer (else pure hash noise)
  std::chrono::milliseconds step_delay{0};  // sleep per forward call, to make timing observable in tests
};

class ToyModel : public Model {
 public:
  explicit ToyModel(ToyOptions options);
  std::unique_ptr<KvCache> create_cache(int64_t context_length) override;
  size_t kv_bytes_per_token() const override { return 2 * sizeof(uint64_t); }
  using Model::forward;  // the one-sequence overload
  void forward(std::span<const SequenceBatch> batch) override;
  int64_t forward_calls() const { return forward_calls_; }

  static const std::string& script_text();

 private:
  ToyOptions options_;
  int64_t forward_calls_ = 0;
};

class ToyEngine : public Engine {
 public:
  ToyEngine(ToyOptions toy, SchedulerOptions scheduler);
  ~ToyEngine() override;
  std::string model_id() const override { return "whale-toy"; }
  int64_t context_length() const override { return scheduler_->options().context_length; }
  bool reasoning_model() const override { return true; }
  ChatPrompt encode_chat(const std::vector<ChatMessage>& messages) override;
  std::vector<int32_t> encode_text(const std::string& text) override;
  std::unique_ptr<TokenDecoder> decoder() override;
  std::string token_text(int32_t token) override;
  Scheduler& scheduler() override { return *scheduler_; }
  std::shared_ptr<const TokenVocabulary> vocabulary() override;

 private:
  std::once_flag vocabulary_once_;
  std::shared_ptr<const TokenVocabulary> vocabulary_;
  std::unique_ptr<ToyModel> model_;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace whale::server
