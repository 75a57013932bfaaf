// Leftmost-longest matching of added tokens with a byte trie.
#include "tokenizer/added_tokens.h"


#include "tokenizer/unicode.h"

namespace whale::tok {
namespace {

// The code point that ends just before `pos` in valid UTF-8.
uint32_t code_point_before(std::string_view text, size_t pos) {
  size_t start = pos - 1;
  while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
  return next_code_point(text, start);
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  nodes_.emplace_back();
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const std::string& content = tokens_[t].content;
    if (content.empty()) continue;
    first_byte_[static_cast<uint8_t>(content[0])] = true;
    uint32_t node = 0;
    for (char c : content) {
      auto byte = static_cast<uint8_t>(c);
      uint32_t next = 0;
      for (const auto& [b, child] : nodes_[node].children) {
        if (b == byte) next = child;
      }
      if (next == 0) {
        next = static_cast<uint32_t>(nodes_.size());
        nodes_[node].children.emplace_back(byte, next);
        nodes_.emplace_back();
      }
      node = next;
    }
    // Two tokens with the same content: the first one listed wins.
    if (nodes_[node].token < 0) nodes_[node].token = static_cast<int32_t>(t);
  }
}

int32_t AddedTokenMatcher::longest_at(std::string_view text, size_t pos, size_t& length) const {
  int32_t best = -1;
  uint32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    auto byte = static_cast<uint8_t>(text[i]);
    uint32_t next = 0;
    for (const auto& [b, child] : nodes_[node].children) {
      if (b == byte) {
        next = child;
        break;
      }
    }
    if (next == 0) break;
    node = next;
    if (nodes_[node].token >= 0) {
      best = nodes_[node].token;
      length = i + 1 - pos;
    }
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& out) const {
  size_t emitted = 0;  // text before this offset has been appended to out
  size_t pos = 0;
  while (pos < text.size()) {
    if (!first_byte_[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    size_t length = 0;
    int32_t index = longest_at(text, pos, length);
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[static_cast<size_t>(index)];
    size_t start = pos, end = pos + length;
    if (token.single_word) {
      bool word_before = start > 0 && is_word_char(code_point_before(text, start));
      size_t after = end;
      bool word_after = end < text.size() && is_word_char(next_code_point(text, after));
      if (word_before || word_after) {
        // Matching resumes after the rejected match, as a non-overlapping search would.
        pos = end;
        continue;
      }
    }
    if (token.lstrip) {
      while (start > emitted) {
        size_t prev = start - 1;
        while (prev > 0 && (static_cast<uint8_t>(text[prev]) & 0xC0) == 0x80) --prev;
        size_t probe = prev;
        if (!is_white_space(next_code_point(text, probe))) break;
        start = prev;
      }
    }
    if (token.rstrip) {
      while (end < text.size()) {
        size_t probe = end;
        if (!is_white_space(next_code_point(text, probe))) break;
        end = probe;
      }
    }
    if (start > emitted) out.push_back({-1, text.substr(emitted, start - emitted)});
    out.push_back({token.id, text.substr(start, end - start)});
    emitted = pos = end;
  }
  if (emitted < text.size()) out.push_back({-1, text.substr(emitted)});
}

}  // namespace whale::tok
