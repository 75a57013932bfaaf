// The streaming think-block splitter (rules in reasoning.h).
#include "chat/reasoning.h"

#include <algorithm>

namespace whale {
namespace {

bool is_newline(char c) { return c == '\n' || c == '\r'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Length of the longest suffix of `text` that is a proper prefix of `tag`: bytes that may become the tag.
size_t partial_tag_suffix(std::string_view text, std::string_view tag) {
  for (size_t n = std::min(text.size(), tag.size() - 1); n > 0; --n) {
    if (text.substr(text.size() - n) == tag.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace

ReasoningSplitter::ReasoningSplitter(Options options) : options_(std::move(options)) {
  if (options_.open_tag.empty() || options_.close_tag.empty()) options_.detect = false;
  state_ = !options_.detect ? State::Content : options_.start_in_reasoning ? State::ReasoningStart : State::Start;
  at_output_start_ = options_.detect && options_.start_in_reasoning;
}

ReasoningDelta ReasoningSplitter::feed(std::string_view piece) {
  ReasoningDelta out;
  pending_.append(piece);
  step(out);
  return out;
}

void ReasoningSplitter::step(ReasoningDelta& out) {
  const std::string& open_tag = options_.open_tag;
  const std::string& close_tag = options_.close_tag;
  for (;;) {
    switch (state_) {
      case State::Start: {
        size_t i = 0;
        while (i < pending_.size() && is_space(pending_[i])) ++i;
        std::string_view rest = std::string_view(pending_).substr(i);
        if (rest.empty()) return;  // only whitespace so far: a think block may still follow
        if (rest.substr(0, open_tag.size()) == open_tag) {
          pending_.erase(0, i + open_tag.size());
          state_ = State::ReasoningStart;
          continue;
        }
        if (rest.size() < open_tag.size() && open_tag.compare(0, rest.size(), rest) == 0) return;
        state_ = State::Content;
        continue;
      }
      case State::ReasoningStart: {
        size_t i = 0;
        while (i < pending_.size() && is_newline(pending_[i])) ++i;
        pending_.erase(0, i);
        if (pending_.empty()) return;
        if (at_output_start_) {  // the prompt opened the block; the model may still repeat the open tag
          if (pending_.size() < open_tag.size() && open_tag.compare(0, pending_.size(), pending_) == 0) return;
          at_output_start_ = false;
          if (pending_.compare(0, open_tag.size(), open_tag) == 0) {
            pending_.erase(0, open_tag.size());
            continue;
          }
        }
        state_ = State::Reasoning;
        continue;
      }
      case State::Reasoning: {
        size_t found = pending_.find(close_tag);
        if (found != std::string::npos) {
          size_t end = found;
          while (end > 0 && is_newline(pending_[end - 1])) --end;
          out.reasoning.append(pending_, 0, end);
          pending_.erase(0, found + close_tag.size());
          closed_ = true;
          state_ = State::ContentStart;
          continue;
        }
        size_t end = pending_.size() - partial_tag_suffix(pending_, close_tag);
        while (end > 0 && is_newline(pending_[end - 1])) --end;
        out.reasoning.append(pending_, 0, end);
        pending_.erase(0, end);
        return;
      }
      case State::ContentStart: {
        size_t i = 0;
        while (i < pending_.size() && is_newline(pending_[i])) ++i;
        pending_.erase(0, i);
        if (pending_.empty()) return;
        state_ = State::Content;
        continue;
      }
      case State::Content:
        out.content.append(pending_);
        pending_.clear();
        return;
    }
  }
}

ReasoningDelta ReasoningSplitter::finish() {
  ReasoningDelta out;
  switch (state_) {
    case State::Start:
    case State::Content: out.content = std::move(pending_); break;
    case State::ReasoningStart:
    case State::Reasoning: out.reasoning = std::move(pending_); break;
    case State::ContentStart: break;  // only newlines after the close tag
  }
  pending_.clear();
  return out;
}

bool prompt_opens_reasoning(std::string_view prompt, std::string_view open_tag, std::string_view close_tag) {
  size_t open = prompt.rfind(open_tag);
  if (open_tag.empty() || open == std::string_view::npos) return false;
  size_t close = prompt.rfind(close_tag);
  if (!close_tag.empty() && close != std::string_view::npos && close > open) return false;
  std::string_view rest = prompt.substr(open + open_tag.size());
  return std::all_of(rest.begin(), rest.end(), is_space);
}

}  // namespace whale
