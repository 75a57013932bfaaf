// PrefixCache: which token prefix each sequence slot's KV cache still holds, so a new request can be placed
// in the free slot that already computed the longest prefix of its prompt (a repeated system prompt or the
// earlier turns of a conversation) and only the rest is prefilled.
//
// This is the first, free level of reuse: nothing is copied. Prefixes shared between slots, and kept after a
// slot is given to an unrelated prompt, live in the PrefixStore (runtime/prefix_store.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace whale {

struct PrefixMatch {
  int32_t slot = -1;    // -1 when no candidate was given
  int64_t matched = 0;  // leading prompt tokens whose KV the slot already holds
};

class PrefixCache {
 public:
  explicit PrefixCache(int32_t slot_count);

  int32_t slot_count() const { return static_cast<int32_t>(slots_.size()); }
  // Tokens whose KV entries slot `slot` holds, in order (positions 0 .. n-1).
  std::span<const int32_t> tokens(int32_t slot) const { return slots_.at(slot).tokens; }

  // Among `candidates` (free slots), the one holding the longest prefix of `prompt`; ties go to the slot used
  // least recently, so a slot that matches nothing evicts the coldest cached prefix.
  PrefixMatch find(std::span<const int32_t> prompt, std::span<const int32_t> candidates) const;

  // Records that `slot` now holds exactly the first `keep` of its tokens followed by `appended`.
  void truncate(int32_t slot, int64_t keep);
  void append(int32_t slot, std::span<const int32_t> appended);
  // Marks `slot` as just used (for the least-recently-used tie break).
  void touch(int32_t slot);

 private:
  struct Slot {
    std::vector<int32_t> tokens;
    uint64_t last_used = 0;
  };
  std::vector<Slot> slots_;
  uint64_t clock_ = 0;
};

// Length of the common prefix of two token sequences.
int64_t common_prefix_length(std::span<const int32_t> a, std::span<const int32_t> b);

}  // namespace whale
