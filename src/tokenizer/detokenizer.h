// Streaming detokenization: generated ids arrive one at a time, and a token may end in the middle of a UTF-8
// character (byte-level BPE splits multi-byte characters across tokens). The streaming detokenizer holds such
// bytes back until the character completes, so every piece it returns is valid UTF-8 and the concatenation of
// all pieces equals Tokenizer::decode of the whole sequence.
#pragma once

#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"

namespace whale {

class StreamingDetokenizer {
 public:
  // The tokenizer must outlive the detokenizer.
  explicit StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special = false);

  // Adds one token; returns the text that became complete (possibly empty). Throws whale::Error for an id
  // outside the vocabulary.
  std::string push(int32_t id);
  // Appends the completed text to `out` instead.
  void push(int32_t id, std::string& out);
  // Ends the stream: returns held-back bytes (an unfinished character becomes U+FFFD) and resets.
  std::string finish();

  // Bytes held back, waiting for the rest of a character.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  bool first_ = true;
  std::string pending_;
};

}  // namespace whale
