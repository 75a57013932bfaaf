// Byte-level BPE: a word (raw bytes) starts as one symbol per byte and adjacent pairs are merged in merge-rank
// order until no ranked pair is left. Symbols are token ids throughout, merges live in a flat hash table keyed
// by the pair of ids, and results for repeated words come from a cache.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace whale::tok {

class BpeModel {
 public:
  struct Merge {
    int32_t left;
    int32_t right;
    int32_t merged;
  };

  // `token_bytes[id]` is the raw byte string of each vocabulary token (empty for ids that are not byte-level
  // tokens, such as special tokens); `merges` are in rank order. With `ignore_merges`, a word that is itself a
  // vocabulary token is emitted whole (the Llama 3 tokenizer relies on this).
  BpeModel(const std::vector<std::string>& token_bytes, const std::vector<Merge>& merges, bool ignore_merges);

  // Appends the ids of one pre-tokenized word. Thread-safe.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  // The same without the cache (for tests and benchmarks of the merge loop itself).
  void encode_word_uncached(std::string_view word, std::vector<int32_t>& out) const;

  size_t merge_count() const { return merge_count_; }
  // Forgets cached words (benchmarks measure encoding from a cold cache with it).
  void clear_cache() const;

 private:
  struct Slot {
    uint64_t key = kEmpty;
    uint32_t rank = 0;
    int32_t merged = -1;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  const Slot* find_merge(int32_t left, int32_t right) const;

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using WordMap = std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>>;

  int32_t byte_token_[256];
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> bytes_to_id_;
  std::vector<Slot> slots_;
  uint64_t slot_mask_ = 0;
  size_t merge_count_ = 0;
  bool ignore_merges_ = false;

  mutable std::shared_mutex cache_mutex_;
  mutable WordMap cache_;
};

}  // namespace whale::tok
