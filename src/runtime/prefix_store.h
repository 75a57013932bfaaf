// PrefixStore: the context cache shared by every sequence slot. Computed KV rows of token prefixes are kept
// in a radix tree over fixed-size token blocks: a node holds one block of tokens and their KV rows
// (KvCache::read_rows), and the path from the root spells the prefix. A new request finds the longest stored
// prefix of its prompt and copies those rows into its slot's cache instead of recomputing them, whichever
// slot or request computed them first (a shared system prompt, the earlier turns of a conversation).
//
// Only whole blocks are stored, so a prefix is shared in steps of block_tokens. Memory is bounded by
// max_bytes: the least recently used leaves go first. With a PrefixDisk attached, every new block is also
// written to disk and the tree is reloaded from it at start (context caching that survives a restart).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "models/kv_cache.h"

namespace whale {

class PrefixDisk;

struct PrefixStoreOptions {
  size_t row_bytes = 0;         // KvCache::row_bytes() of the model
  int64_t block_tokens = 16;    // tokens per node
  size_t max_bytes = 0;         // KV bytes kept in memory (0: the store is off)
};

struct PrefixStoreStats {
  size_t blocks = 0;
  size_t bytes = 0;
  uint64_t evicted_blocks = 0;
};

class PrefixStore {
 public:
  explicit PrefixStore(PrefixStoreOptions options, PrefixDisk* disk = nullptr);
  ~PrefixStore();
  PrefixStore(const PrefixStore&) = delete;
  PrefixStore& operator=(const PrefixStore&) = delete;

  int64_t block_tokens() const { return options_.block_tokens; }
  PrefixStoreStats stats() const;

  // Tokens of the longest stored prefix of `tokens` (a multiple of block_tokens), at most `limit`.
  int64_t match(std::span<const int32_t> tokens, int64_t limit) const;
  // Copies the stored rows of positions [from, to) of `tokens` into `cache` (which holds exactly `from`
  // positions of the same tokens); `to` is at most match(tokens, to). Marks the path as just used.
  void restore(std::span<const int32_t> tokens, int64_t from, int64_t to, KvCache& cache);
  // Stores the whole blocks of tokens[0, n) that are not stored yet, reading their rows from `cache` (which
  // holds at least n positions computed from exactly these tokens).
  void insert(std::span<const int32_t> tokens, int64_t n, const KvCache& cache);

  // Adds a block read back from disk under the stored node whose prefix_hash is `parent_hash` (kRootHash: a
  // first block). False when that parent is not stored, the block is already there, the hash does not match
  // or memory is full.
  bool adopt(uint64_t parent_hash, uint64_t hash, std::span<const int32_t> block, std::vector<std::byte> rows);

  static constexpr uint64_t kRootHash = 0x77686c6b76303031ull;

 private:
  struct Node;
  const Node* child(const Node& parent, std::span<const int32_t> block) const;
  Node& add(Node& parent, uint64_t hash, std::span<const int32_t> block, std::vector<std::byte> rows);
  void evict_to(size_t target_bytes);

  PrefixStoreOptions options_;
  PrefixDisk* disk_;
  Node* root_ = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Node>> nodes_;  // by prefix_hash, root included
  size_t bytes_ = 0;
  size_t blocks_ = 0;
  uint64_t evicted_ = 0;
  uint64_t clock_ = 0;
  std::vector<std::byte> row_buffer_;  // insert's staging buffer, one block
};

// The 64-bit hash that names a block: the chain of every token from the start of the prefix through the
// block, so equal hashes mean equal prefixes (up to hash collisions, which the stored tokens rule out).
uint64_t prefix_hash(uint64_t parent_hash, std::span<const int32_t> block);

}  // namespace whale
