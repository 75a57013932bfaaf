// JsonObjectConstraint (see token_constraint.h).
#include "runtime/token_constraint.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace whale {

namespace {
constexpr std::string_view kThinkEnd = "</think>";
}

JsonObjectConstraint::JsonObjectConstraint(std::shared_ptr<const TokenVocabulary> vocabulary,
                                           std::vector<int32_t> end_tokens, bool reasoning_first)
    : vocabulary_(std::move(vocabulary)), end_tokens_(std::move(end_tokens)), reasoning_(reasoning_first) {
  WHALE_ASSERT(vocabulary_ != nullptr && vocabulary_->bytes.size() == vocabulary_->special.size());
}

bool JsonObjectConstraint::is_end(int32_t token) const {
  return std::find(end_tokens_.begin(), end_tokens_.end(), token) != end_tokens_.end();
}

void JsonObjectConstraint::restrict(std::span<float> logits) {
  if (reasoning_) return;
  constexpr float kForbidden = -std::numeric_limits<float>::infinity();
  const auto n = std::min(logits.size(), vocabulary_->bytes.size());
  const bool done = json_.complete();
  bool any = false;
  for (size_t t = 0; t < logits.size(); ++t) {
    const auto token = static_cast<int32_t>(t);
    bool allowed;
    if (is_end(token)) {
      allowed = done;
    } else if (done || t >= n || vocabulary_->special[t] || vocabulary_->bytes[t].empty()) {
      allowed = false;
    } else {
      JsonPrefix next = json_;
      allowed = next.feed(vocabulary_->bytes[t]);
    }
    if (allowed) {
      any = true;
    } else {
      logits[t] = kForbidden;
    }
  }
  WHALE_ASSERT(any || end_tokens_.empty());  // a JSON prefix always has a continuation
}

void JsonObjectConstraint::accept(int32_t token) {
  if (token < 0 || static_cast<size_t>(token) >= vocabulary_->bytes.size() || is_end(token)) return;
  const std::string& bytes = vocabulary_->bytes[static_cast<size_t>(token)];
  if (reasoning_) {
    tail_ += bytes;
    if (const size_t end = tail_.find(kThinkEnd); end != std::string::npos) {
      reasoning_ = false;
      // Bytes of the same token after "</think>" already belong to the answer; when they cannot start a JSON
      // object, the object starts after them.
      if (!json_.feed(std::string_view(tail_).substr(end + kThinkEnd.size()))) json_ = JsonPrefix();
    } else if (tail_.size() > kThinkEnd.size()) {
      tail_.erase(0, tail_.size() - kThinkEnd.size());
    }
    return;
  }
  const bool ok = json_.feed(bytes);
  WHALE_ASSERT(ok);  // restrict() allowed only tokens that keep the prefix valid
}

}  // namespace whale
