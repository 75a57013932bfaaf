// Session: one sequence's generation loop over a model (the CLI's `run` and `chat`; the server's scheduler
// batches many sequences instead). It owns the KV cache and remembers which tokens it holds, so a follow-up
// prompt that extends the previous one (the next chat turn) only prefills the new tokens.
//
// generate(): prefill the prompt, then repeat sample -> forward until EOS / an end-of-turn token, a stop
// string, max_tokens or a full context. Text is streamed through the tokenizer's streaming detokenizer
// (special tokens skipped) with stop strings held back until they can be ruled out, so the callback never
// sees a stop string or half a UTF-8 character.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/model.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace whale {

struct GenerationOptions {
  int64_t max_tokens = -1;         // -1: until the context is full
  SamplerOptions sampling;
  std::vector<std::string> stop;   // generation ends before the first occurrence; not part of the text
  bool ignore_eos = false;         // keep going past EOS / end-of-turn tokens (benchmarks)
};

enum class FinishReason { Stop, Length };  // Stop: EOS, end of turn or a stop string. Length: max or context
std::string_view finish_reason_name(FinishReason reason);  // "stop", "length"

struct Timings {
  int64_t prompt_tokens = 0;   // tokens of the prompt
  int64_t cached_tokens = 0;   // of which were already in the KV cache
  double prompt_ms = 0;        // prefill time of the rest
  int64_t generated_tokens = 0;
  double generate_ms = 0;      // time of the generated tokens (sampling + forward)
  double prompt_tokens_per_second() const;
  double generated_tokens_per_second() const;
};

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated ids, including the final EOS / end-of-turn token if any
  std::string text;             // their text without special tokens, cut before a stop string
  FinishReason finish = FinishReason::Length;
  Timings timings;
};

// Called with each piece of text as it becomes final.
using TextCallback = std::function<void(std::string_view piece)>;

class Session {
 public:
  // `context_size` tokens of KV cache (see choose_context_size). The model and tokenizer must outlive it.
  Session(Model& model, const Tokenizer& tokenizer, int64_t context_size);

  int64_t context_size() const { return cache_->capacity(); }
  // Tokens whose KV entries the cache holds (prompt and generated tokens of earlier calls).
  std::span<const int32_t> tokens() const { return tokens_; }
  void reset();

  // Throws whale::Error when the prompt is empty or does not fit the context.
  GenerationResult generate(std::span<const int32_t> prompt, const GenerationOptions& options,
                            const TextCallback& on_text = {});

  // Runs `prompt` through the model (reusing the cached prefix) without sampling; returns the logits of its
  // last token. Used by evaluation and the oracle tests.
  std::span<const float> prefill(std::span<const int32_t> prompt);
  // Logits after the last prefill or generated token.
  std::span<const float> last_logits() const { return logits_; }

 private:
  Model& model_;
  const Tokenizer& tokenizer_;
  std::unique_ptr<KvCache> cache_;
  std::vector<int32_t> tokens_;
  std::vector<float> logits_;
};

// The context size to use: `requested` when > 0 (capped at nothing but checked to be sane), else the model's
// training context, lowered so its KV cache takes at most half of the memory available now. Never below
// 256 tokens or above the model's context unless asked explicitly.
int64_t choose_context_size(const Model& model, int64_t requested);

}  // namespace whale
