// PrefixStore (see prefix_store.h).
#include "runtime/prefix_store.h"

#include <algorithm>
#include <queue>

#include "core/error.h"
#include "runtime/prefix_disk.h"

namespace whale {

struct PrefixStore::Node {
  Node* parent = nullptr;
  uint64_t hash = 0;
  std::vector<int32_t> tokens;  // block_tokens of them (none at the root)
  std::vector<std::byte> rows;  // block_tokens * row_bytes
  size_t children = 0;
  uint64_t last_used = 0;
};

uint64_t prefix_hash(uint64_t parent_hash, std::span<const int32_t> block) {
  // FNV-1a over the parent's hash and the block's token ids, then a final avalanche.
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix_byte = [&](uint8_t byte) {
    h ^= byte;
    h *= 0x100000001b3ull;
  };
  for (int i = 0; i < 8; ++i) mix_byte(static_cast<uint8_t>(parent_hash >> (8 * i)));
  for (int32_t token : block) {
    const auto u = static_cast<uint32_t>(token);
    for (int i = 0; i < 4; ++i) mix_byte(static_cast<uint8_t>(u >> (8 * i)));
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

PrefixStore::PrefixStore(PrefixStoreOptions options, PrefixDisk* disk) : options_(options), disk_(disk) {
  WHALE_ASSERT(options_.block_tokens > 0 && options_.row_bytes > 0);
  auto root = std::make_unique<Node>();
  root->hash = kRootHash;
  root_ = root.get();
  nodes_.emplace(kRootHash, std::move(root));
}

PrefixStore::~PrefixStore() = default;

PrefixStoreStats PrefixStore::stats() const { return {blocks_, bytes_, evicted_}; }

const PrefixStore::Node* PrefixStore::child(const Node& parent, std::span<const int32_t> block) const {
  auto it = nodes_.find(prefix_hash(parent.hash, block));
  if (it == nodes_.end()) return nullptr;
  const Node& node = *it->second;
  // A hash collision with another prefix is a miss, never a wrong hit.
  if (node.parent != &parent || !std::equal(block.begin(), block.end(), node.tokens.begin(), node.tokens.end())) {
    return nullptr;
  }
  return &node;
}

int64_t PrefixStore::match(std::span<const int32_t> tokens, int64_t limit) const {
  const int64_t block = options_.block_tokens;
  limit = std::min<int64_t>(limit, static_cast<int64_t>(tokens.size()));
  const Node* node = root_;
  int64_t matched = 0;
  while (matched + block <= limit) {
    node = child(*node, tokens.subspan(static_cast<size_t>(matched), static_cast<size_t>(block)));
    if (node == nullptr) break;
    matched += block;
  }
  return matched;
}

void PrefixStore::restore(std::span<const int32_t> tokens, int64_t from, int64_t to, KvCache& cache) {
  const int64_t block = options_.block_tokens;
  WHALE_ASSERT(cache.length() == from && from <= to && to % block == 0);
  const size_t row = options_.row_bytes;
  WHALE_ASSERT(cache.row_bytes() == row);
  const uint64_t now = ++clock_;
  Node* node = root_;
  for (int64_t start = 0; start < to; start += block) {
    node = const_cast<Node*>(child(*node, tokens.subspan(static_cast<size_t>(start), static_cast<size_t>(block))));
    WHALE_ASSERT(node != nullptr);
    node->last_used = now;
    if (start + block <= from) continue;
    const int64_t skip = std::max<int64_t>(from - start, 0);
    cache.write_rows(start + skip, std::span<const std::byte>(node->rows).subspan(static_cast<size_t>(skip) * row));
  }
}

PrefixStore::Node& PrefixStore::add(Node& parent, uint64_t hash, std::span<const int32_t> block,
                                    std::vector<std::byte> rows) {
  auto node = std::make_unique<Node>();
  node->parent = &parent;
  node->hash = hash;
  node->tokens.assign(block.begin(), block.end());
  node->rows = std::move(rows);
  node->last_used = ++clock_;
  bytes_ += node->rows.size();
  ++blocks_;
  ++parent.children;
  Node& added = *node;
  nodes_.emplace(hash, std::move(node));
  return added;
}

void PrefixStore::insert(std::span<const int32_t> tokens, int64_t n, const KvCache& cache) {
  if (options_.max_bytes == 0) return;
  const int64_t block = options_.block_tokens;
  WHALE_ASSERT(n <= cache.length() && n <= static_cast<int64_t>(tokens.size()));
  const size_t row = options_.row_bytes;
  const size_t block_bytes = static_cast<size_t>(block) * row;
  if (block_bytes > options_.max_bytes) return;
  const uint64_t now = ++clock_;
  Node* node = root_;
  bool added = false;
  for (int64_t start = 0; start + block <= n; start += block) {
    const auto span = tokens.subspan(static_cast<size_t>(start), static_cast<size_t>(block));
    Node* next = const_cast<Node*>(child(*node, span));
    if (next == nullptr) {
      const uint64_t hash = prefix_hash(node->hash, span);
      if (nodes_.count(hash) != 0) break;  // a colliding prefix holds this name: store no further
      std::vector<std::byte> rows(block_bytes);
      cache.read_rows(start, block, rows);
      if (disk_ != nullptr) disk_->save(node->hash, hash, span, rows);
      next = &add(*node, hash, span, std::move(rows));
      added = true;
    }
    next->last_used = now;
    node = next;
  }
  if (added && bytes_ > options_.max_bytes) evict_to(options_.max_bytes - options_.max_bytes / 8);
}

bool PrefixStore::adopt(uint64_t parent_hash, uint64_t hash, std::span<const int32_t> block,
                        std::vector<std::byte> rows) {
  auto parent = nodes_.find(parent_hash);
  if (parent == nodes_.end() || static_cast<int64_t>(block.size()) != options_.block_tokens ||
      rows.size() != static_cast<size_t>(options_.block_tokens) * options_.row_bytes ||
      prefix_hash(parent_hash, block) != hash || nodes_.count(hash) != 0 ||
      bytes_ + rows.size() > options_.max_bytes) {
    return false;
  }
  add(*parent->second, hash, block, std::move(rows));
  return true;
}

void PrefixStore::evict_to(size_t target_bytes) {
  using Entry = std::pair<uint64_t, Node*>;  // (last used, leaf): oldest first
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> leaves;
  for (auto& [hash, node] : nodes_) {
    if (node.get() != root_ && node->children == 0) leaves.emplace(node->last_used, node.get());
  }
  while (bytes_ > target_bytes && !leaves.empty()) {
    Node* leaf = leaves.top().second;
    leaves.pop();
    Node* parent = leaf->parent;
    bytes_ -= leaf->rows.size();
    --blocks_;
    ++evicted_;
    --parent->children;
    nodes_.erase(leaf->hash);
    if (parent != root_ && parent->children == 0) leaves.emplace(parent->last_used, parent);
  }
}

}  // namespace whale
