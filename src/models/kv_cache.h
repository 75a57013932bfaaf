// KvCache: the per-sequence attention state a model keeps between forward calls. Each architecture defines
// what it stores (the dense models: per-layer keys and values; deepseek2: the MLA latent c_kv and the shared
// rope key k_pe per token and layer). The runtime only sees capacity, length and bytes.
//
// Positions 0 .. length()-1 hold valid entries. Model::forward(tokens, start_pos, ...) requires
// start_pos <= length(); it overwrites from start_pos on and sets length() = start_pos + tokens.size(), so
// rolling back (speculative decoding, editing a conversation) is truncate(n) or simply a smaller start_pos.
//
// A position's entries across all layers can be copied out as row_bytes() opaque bytes and copied back into
// any cache of the same model: the runtime's prefix cache keeps such rows to share a computed prefix between
// sequences and to persist it on disk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

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

  // Bytes one position's entries take across all layers.
  virtual size_t row_bytes() const = 0;
  // Copies positions [first, first + count) (all < length()) into `out` (count * row_bytes() bytes).
  virtual void read_rows(int64_t first, int64_t count, std::span<std::byte> out) const = 0;
  // Writes count = in.size() / row_bytes() positions from `first` (<= length()) and sets length() to
  // first + count: the rows must come from read_rows of a cache of the same model.
  void write_rows(int64_t first, std::span<const std::byte> in) {
    const size_t row = row_bytes();
    WHALE_ASSERT(row > 0 && in.size() % row == 0);
    const auto count = static_cast<int64_t>(in.size() / row);
    WHALE_ASSERT(first >= 0 && first <= length_ && first + count <= capacity_);
    store_rows(first, count, in);
    length_ = first + count;
  }

  // Used by models after a forward pass wrote positions up to `n`.
  void set_length(int64_t n) {
    WHALE_ASSERT(n >= 0 && n <= capacity_);
    length_ = n;
  }

 protected:
  virtual void store_rows(int64_t first, int64_t count, std::span<const std::byte> in) = 0;

 private:
  int64_t capacity_;
  int64_t length_ = 0;
};

}  // namespace whale
