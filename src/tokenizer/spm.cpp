// The SentencePiece-style BPE merge loop.
#include "tokenizer/spm.h"

#include <algorithm>

namespace whale::tok {
namespace {

struct Symbol {
  uint32_t start;  // byte offset in the text
  uint32_t size;   // 0 once absorbed by the symbol on its left
  int32_t prev;
  int32_t next;
};

struct Bigram {
  float score;
  int32_t left;
  int32_t right;
  uint32_t size;
};

// Highest score first; on equal scores the leftmost pair.
struct Worse {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score != b.score ? a.score < b.score : a.left > b.left;
  }
};

}  // namespace

SpmModel::SpmModel(const std::vector<std::string>& tokens, const std::vector<float>& scores,
                   const std::vector<int32_t>& byte_tokens, int32_t unk_id)
    : scores_(scores), byte_tokens_(byte_tokens), unk_id_(unk_id) {
  text_to_id_.reserve(tokens.size());
  for (size_t id = 0; id < tokens.size(); ++id) text_to_id_.emplace(tokens[id], static_cast<int32_t>(id));
  scores_.resize(tokens.size(), 0.0f);
  byte_tokens_.resize(256, -1);
}

int32_t SpmModel::find(std::string_view text) const {
  auto it = text_to_id_.find(text);
  return it == text_to_id_.end() ? -1 : it->second;
}

void SpmModel::encode(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    auto lead = static_cast<uint8_t>(text[pos]);
    size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    len = std::min(len, text.size() - pos);
    auto n = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(len), n - 1, n + 1});
    pos += len;
  }
  symbols.back().next = -1;

  std::vector<Bigram> heap;
  auto try_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    uint32_t size = symbols[left].size + symbols[right].size;
    int32_t id = find(text.substr(symbols[left].start, size));
    if (id < 0) return;
    heap.push_back({scores_[static_cast<size_t>(id)], left, right, size});
    std::push_heap(heap.begin(), heap.end(), Worse{});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_pair(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), Worse{});
    Bigram b = heap.back();
    heap.pop_back();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    // Stale: one side was absorbed or has grown since the pair was queued.
    if (left.size == 0 || right.size == 0 || left.next != b.right || left.size + right.size != b.size) continue;
    left.size += right.size;
    right.size = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    try_pair(left.prev, b.left);
    try_pair(b.left, left.next);
  }

  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    std::string_view piece = text.substr(symbols[i].start, symbols[i].size);
    int32_t id = find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Only single characters can be missing (merges always form tokens): spell them as bytes.
    for (char c : piece) {
      int32_t byte_id = byte_tokens_[static_cast<uint8_t>(c)];
      if (byte_id < 0) byte_id = unk_id_;
      if (byte_id >= 0) out.push_back(byte_id);
    }
  }
}

}  // namespace whale::tok
