// TokenConstraint: a per-request rule on which tokens may come next, applied by the scheduler to the logits
// before sampling (after the log-probabilities it reports, which stay the model's own).
//
// JsonObjectConstraint implements response_format "json_object": the chain of thought is free (up to
// "</think>"); the answer after it may only be a prefix of one JSON object (runtime/json_prefix.h), and
// end-of-generation is allowed only once the object is closed, then forced.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/json_prefix.h"

namespace whale {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets the logits of the tokens that may not come next to -infinity.
  virtual void restrict(std::span<float> logits) = 0;
  // Records the token that was chosen.
  virtual void accept(int32_t token) = 0;
};

// The bytes of every token, built once per model. Special tokens (BOS, <think>, ...) are never part of an
// answer's JSON.
struct TokenVocabulary {
  std::vector<std::string> bytes;
  std::vector<bool> special;
};

class JsonObjectConstraint final : public TokenConstraint {
 public:
  // `reasoning_first`: the output starts inside the chain of thought (the prompt opened it).
  JsonObjectConstraint(std::shared_ptr<const TokenVocabulary> vocabulary, std::vector<int32_t> end_tokens,
                       bool reasoning_first);
  void restrict(std::span<float> logits) override;
  void accept(int32_t token) override;

  bool in_answer() const { return !reasoning_; }
  bool complete() const { return json_.complete(); }

 private:
  bool is_end(int32_t token) const;

  std::shared_ptr<const TokenVocabulary> vocabulary_;
  std::vector<int32_t> end_tokens_;
  bool reasoning_;
  std::string tail_;  // the last bytes of the chain of thought, to see "</think>"
  JsonPrefix json_;
};

}  // namespace whale
