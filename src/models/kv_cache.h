// KvCache: the per-sequence attention state a model keeps between forward calls. Each architecture defines
// what it stores (the dense models: per-layer keys and values; deepseek2: the MLA latent c_kv and the shared
// rope key k_pe per token and layer). The runtime only sees capacity, length and bytes.
//
// Positions 0 .. length()-1 hold valid entries. Model::forward(tokens, start_pos, ...) requires
// start_pos <= length(); it overwrites from start_pos on and sets length() = start_pos + tokens.size(), so
// rolling back (speculative decoding, editing a conversation) is truncate(n) or simply a smaller start_pos.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/error.h"

namespace whale {

class KvCache {
 public:
  explicit KvCache(int64_t capacity) : capacity_(capacity) {}
  virtual ~KvCache() = default;
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // Most tokens this cache can hold (the context size it was created for).
  int64_t capacity() const { return capacity_; }
  // Tokens whose entries are valid.
  int64_t length() const { return length_; }
  // Forgets the entries from position n on (n <= length()).
  void truncate(int64_t n) {
    WHALE_ASSERT(n >= 0 && n <= length_);
    length_ = n;
  }
  void clear() { length_ = 0; }
  // Bytes reserved for the whole capacity (memory is committed lazily as positions are written).
  virtual size_t bytes() const = 0;

  // Used by models after a forward pass wrote positions up to `n`.
  void set_length(int64_t n) {
    WHALE_ASSERT(n >= 0 && n <= capacity_);
    length_ = n;
  }

 private:
  int64_t capacity_;
  int64_t length_ = 0;
};

}  // namespace whale
