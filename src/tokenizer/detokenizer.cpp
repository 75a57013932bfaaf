// Streaming detokenization with held-back partial UTF-8 characters.
#include "tokenizer/detokenizer.h"

#include "tokenizer/unicode.h"

namespace whale {

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(&tokenizer), skip_special_(skip_special) {}

void StreamingDetokenizer::push(int32_t id, std::string& out) {
  std::string_view bytes = tokenizer_->token_bytes(id);
  if (skip_special_ && tokenizer_->is_special(id)) return;
  // Same leading-space rule as Tokenizer::decode_bytes, so both produce the same text.
  if (first_ && tokenizer_->decode_strips_leading_space() && !bytes.empty() && bytes[0] == ' ') {
    bytes.remove_prefix(1);
  }
  if (!tokenizer_->token_bytes(id).empty()) first_ = false;
  pending_.append(bytes);
  size_t hold = tok::incomplete_utf8_tail(pending_);
  std::string_view ready(pending_.data(), pending_.size() - hold);
  tok::append_utf8_lossy(out, ready);
  pending_.erase(0, ready.size());
}

std::string StreamingDetokenizer::push(int32_t id) {
  std::string out;
  push(id, out);
  return out;
}

std::string StreamingDetokenizer::finish() {
  std::string out = tok::utf8_lossy(pending_);
  pending_.clear();
  first_ = true;
  return out;
}

}  // namespace whale
