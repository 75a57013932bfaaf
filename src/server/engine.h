// Engine: what the HTTP layer needs from the model side — the served model's name and context, turning a
// conversation or a raw prompt into token ids, turning generated ids back into text, and the scheduler that
// runs requests. ModelEngine (model_engine.h) implements it over a loaded model; ToyEngine (toy_engine.h) is a
// small deterministic stand-in for tests of the HTTP layer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/scheduler.h"
#include "server/requests.h"

namespace whale::server {

// Streaming detokenizer: text is released only once complete (a UTF-8 character split over tokens waits).
class TokenDecoder {
 public:
  virtual ~TokenDecoder() = default;
  virtual std::string push(int32_t token) = 0;
  virtual std::string flush() = 0;  // whatever is still held at the end
};

struct ChatPrompt {
  std::vector<int32_t> ids;
  // The template already opened the reasoning block ("<think>\n" at the end of the prompt), so the output
  // starts inside the chain of thought.
  bool opens_reasoning = false;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string model_id() const = 0;
  virtual int64_t context_length() const = 0;
  // Whether outputs carry a <think>...</think> chain of thought to split into reasoning_content.
  virtual bool reasoning_model() const = 0;
  virtual ChatPrompt encode_chat(const std::vector<ChatMessage>& messages) = 0;
  virtual std::vector<int32_t> encode_text(const std::string& text) = 0;
  virtual std::unique_ptr<TokenDecoder> decoder() = 0;
  // Text of one token for logprobs (may hold partial UTF-8 bytes).
  virtual std::string token_text(int32_t token) = 0;
  virtual Scheduler& scheduler() = 0;
  // The bytes of every token, for constrained decoding (built on first use, then shared).
  virtual std::shared_ptr<const TokenVocabulary> vocabulary() = 0;
};

}  // namespace whale::server
