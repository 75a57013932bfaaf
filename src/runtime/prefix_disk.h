// PrefixDisk: the on-disk tier of the context cache (--cache-dir). Each stored block of the PrefixStore is
// one file DIR/<model>/<prefix hash>.kv, written by a background thread (temporary file, fsync, rename, so a
// crash or a full disk leaves either the whole file or none), and read back at start.
//
// A file is trusted only when everything checks: magic and version, the model fingerprint, block size and
// row size of this model, the exact file size, the prefix hash recomputed from its tokens, and a checksum over
// the whole record. Anything else is reported, deleted and ignored. Blocks whose parent block is missing are
// ignored too (a prefix is only usable from its start).
//
// Record layout (little-endian): "WHALEKV1", u32 version, u32 block_tokens, u64 model fingerprint,
// u64 row_bytes, u64 parent hash, u64 hash, i32 tokens[block_tokens], rows[block_tokens * row_bytes],
// u64 checksum (FNV-1a of everything before it).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace whale {

class ModelSource;
class PrefixStore;

struct PrefixDiskOptions {
  std::string dir;                  // --cache-dir
  uint64_t model_fingerprint = 0;   // model_fingerprint() of the served model
  size_t row_bytes = 0;
  int64_t block_tokens = 16;
  uint64_t max_bytes = 8ull << 30;  // files beyond this are deleted, oldest written first
};

struct PrefixDiskLoad {
  size_t loaded = 0;    // blocks now in the store
  size_t damaged = 0;   // files that failed a check (deleted)
  size_t orphaned = 0;  // valid blocks whose prefix is incomplete or that did not fit in memory
};

class PrefixDisk {
 public:
  // Creates DIR/<model> if needed. Throws whale::Error when the directory cannot be created or written.
  explicit PrefixDisk(PrefixDiskOptions options);
  ~PrefixDisk();  // writes what is queued, then stops
  PrefixDisk(const PrefixDisk&) = delete;
  PrefixDisk& operator=(const PrefixDisk&) = delete;

  const std::string& folder() const { return folder_; }

  // Reads every record into `store`, parents before children.
  PrefixDiskLoad load_into(PrefixStore& store);
  // Queues one block for writing (skipped when it is already on disk or the queue is full).
  void save(uint64_t parent_hash, uint64_t hash, std::span<const int32_t> tokens, std::span<const std::byte> rows);
  // Waits until every queued block is written (or has failed).
  void flush();

  uint64_t written() const;        // blocks written since start
  uint64_t write_failures() const;  // blocks that could not be written (full disk, permissions)

 private:
  struct Job {
    uint64_t hash = 0;
    std::vector<std::byte> record;
  };
  void writer_loop();
  bool write_file(const Job& job);
  void forget_oldest_over_budget();

  PrefixDiskOptions options_;
  std::string folder_;
  size_t record_bytes_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable work_, idle_;
  std::deque<Job> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool stopping_ = false;
  std::unordered_set<uint64_t> on_disk_;
  std::deque<uint64_t> disk_order_;  // on-disk blocks, oldest first
  uint64_t written_ = 0;
  uint64_t failures_ = 0;
  std::thread thread_;
};

// A fingerprint of a model's weights, so cached KV rows are only ever reused with the model that computed
// them: the architecture, every tensor's name, type and shape, and samples of every tensor's bytes.
uint64_t model_fingerprint(const ModelSource& source);

}  // namespace whale
