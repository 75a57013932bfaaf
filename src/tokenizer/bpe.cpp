// The BPE merge loop and its tables.
#include "tokenizer/bpe.h"

#include <algorithm>
#include <mutex>

#include "core/error.h"

namespace whale::tok {
namespace {

// Repeated words are looked up instead of merged again. The cache stops growing at this many entries (long
// documents with endless distinct words then cost merges, not memory), and long words are not kept at all.
constexpr size_t kCacheCapacity = 200000;
constexpr size_t kMaxCachedWordBytes = 128;

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
};

struct Candidate {
  uint32_t rank;
  int32_t pos;
  int32_t left;
  int32_t right;
  int32_t merged;
};

// Lowest rank first; on equal ranks the leftmost pair, as Hugging Face orders them.
struct Later {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  }
};

struct MergeScratch {
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
};

uint64_t mix(uint64_t key) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdULL;
  key ^= key >> 33;
  return key;
}

}  // namespace

BpeModel::BpeModel(const std::vector<std::string>& token_bytes, const std::vector<Merge>& merges, bool ignore_merges)
    : ignore_merges_(ignore_merges) {
  std::fill(std::begin(byte_token_), std::end(byte_token_), -1);
  bytes_to_id_.reserve(token_bytes.size());
  for (size_t id = 0; id < token_bytes.size(); ++id) {
    const std::string& b = token_bytes[id];
    if (b.empty()) continue;
    bytes_to_id_.emplace(b, static_cast<int32_t>(id));  // keeps the lowest id if two tokens share bytes
    if (b.size() == 1 && byte_token_[static_cast<uint8_t>(b[0])] < 0) {
      byte_token_[static_cast<uint8_t>(b[0])] = static_cast<int32_t>(id);
    }
  }

  size_t capacity = 16;
  while (capacity < merges.size() * 2) capacity *= 2;
  slots_.assign(capacity, Slot{});
  slot_mask_ = capacity - 1;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const Merge& m = merges[rank];
    uint64_t key = pair_key(m.left, m.right);
    for (uint64_t i = mix(key) & slot_mask_;; i = (i + 1) & slot_mask_) {
      Slot& slot = slots_[i];
      if (slot.key == key) break;  // a repeated pair keeps its first (best) rank
      if (slot.key == kEmpty) {
        slot = Slot{key, static_cast<uint32_t>(rank), m.merged};
        ++merge_count_;
        break;
      }
    }
  }
}

const BpeModel::Slot* BpeModel::find_merge(int32_t left, int32_t right) const {
  uint64_t key = pair_key(left, right);
  for (uint64_t i = mix(key) & slot_mask_;; i = (i + 1) & slot_mask_) {
    const Slot& slot = slots_[i];
    if (slot.key == key) return &slot;
    if (slot.key == kEmpty) return nullptr;
  }
}

void BpeModel::encode_word_uncached(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    auto it = bytes_to_id_.find(word);
    if (it != bytes_to_id_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  thread_local MergeScratch scratch;
  auto& symbols = scratch.symbols;
  auto& heap = scratch.heap;
  symbols.clear();
  heap.clear();
  for (char c : word) {
    int32_t id = byte_token_[static_cast<uint8_t>(c)];
    // A byte without a token (not the case in a complete byte-level vocabulary) is dropped, as Hugging Face
    // drops unknown symbols when there is no unk token.
    if (id < 0) continue;
    auto n = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, n - 1, n + 1});
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;
  if (symbols.size() == 1) {
    out.push_back(symbols[0].id);
    return;
  }

  auto push_pair = [&](int32_t pos) {
    if (pos < 0) return;
    int32_t next = symbols[pos].next;
    if (next < 0) return;
    if (const Slot* m = find_merge(symbols[pos].id, symbols[next].id)) {
      heap.push_back({m->rank, pos, symbols[pos].id, symbols[next].id, m->merged});
      std::push_heap(heap.begin(), heap.end(), Later{});
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) push_pair(i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), Later{});
    Candidate c = heap.back();
    heap.pop_back();
    Symbol& left = symbols[c.pos];
    // Stale entries: the left symbol was absorbed, or either side has changed since the pair was queued.
    if (left.id != c.left || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    if (right.id != c.right) continue;
    left.id = c.merged;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.pos;
    right.id = -1;
    push_pair(left.prev);
    push_pair(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

void BpeModel::clear_cache() const {
  std::unique_lock lock(cache_mutex_);
  cache_.clear();
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() > kMaxCachedWordBytes) {
    encode_word_uncached(word, out);
    return;
  }
  {
    std::shared_lock lock(cache_mutex_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t first = out.size();
  encode_word_uncached(word, out);
  std::unique_lock lock(cache_mutex_);
  if (cache_.size() < kCacheCapacity) {
    cache_.try_emplace(std::string(word), out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
  }
}

}  // namespace whale::tok
