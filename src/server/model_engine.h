// ModelEngine: the Engine over a real model loaded from a GGUF file or a Hugging Face folder — its chat
// template renders conversations, its tokenizer encodes and streams text back, and a Scheduler runs the
// requests on a thread pool of --threads.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "core/thread_pool.h"
#include "runtime/loaded_model.h"
#include "server/engine.h"

namespace whale::server {

struct ModelEngineOptions {
  int threads = 0;             // compute threads (0 = all cores)
  bool check_memory = true;
  bool map_weights = false;    // weights from the file's memory map rather than copied into huge pages    // refuse a model whose weights and KV caches exceed the available memory
  SchedulerOptions scheduler;  // context_length 0 = the model's, at most kDefaultContext
  static constexpr int64_t kDefaultContext = 4096;
};

class ModelEngine : public Engine {
 public:
  ModelEngine(const std::string& path, ModelEngineOptions options);
  ~ModelEngine() override;

  std::string model_id() const override { return model_id_; }
  int64_t context_length() const override { return scheduler_->options().context_length; }
  bool reasoning_model() const override { return reasoning_; }
  ChatPrompt encode_chat(const std::vector<ChatMessage>& messages) override;
  std::vector<int32_t> encode_text(const std::string& text) override;
  std::unique_ptr<TokenDecoder> decoder() override;
  std::string token_text(int32_t token) override;
  Scheduler& scheduler() override { return *scheduler_; }
  std::shared_ptr<const TokenVocabulary> vocabulary() override;

 private:
  std::once_flag vocabulary_once_;
  std::shared_ptr<const TokenVocabulary> vocabulary_;
  std::unique_ptr<ThreadPool> pool_;
  LoadedModel loaded_;
  std::string model_id_;
  bool reasoning_ = false;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace whale::server
