// The shared context cache: the radix tree over token blocks (match, restore, eviction) and its on-disk tier
// (round trip across a restart, damaged and foreign files ignored, write failures survived). A fake cache
// whose rows are a function of the token and position makes every restored byte checkable.
#include "runtime/prefix_store.h"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "runtime/prefix_disk.h"

namespace whale {
namespace {

namespace fs = std::filesystem;

constexpr size_t kRow = 12;

// A cache whose row at position p is derived from the prefix hash up to p (what a real model's KV depends on).
class FakeCache : public KvCache {
 public:
  explicit FakeCache(int64_t capacity) : KvCache(capacity), rows_(static_cast<size_t>(capacity) * kRow) {}
  size_t bytes() const override { return rows_.size(); }
  size_t row_bytes() const override { return kRow; }
  void read_rows(int64_t first, int64_t count, std::span<std::byte> out) const override {
    ASSERT_LE(first + count, length());
    std::memcpy(out.data(), rows_.data() + first * kRow, static_cast<size_t>(count) * kRow);
  }
  // "Computes" tokens from position `from`.
  void compute(std::span<const int32_t> tokens, int64_t from) {
    uint64_t h = from == 0 ? 1 : hash_at(from - 1);
    for (int64_t p = from; p < static_cast<int64_t>(tokens.size()); ++p) {
      h = h * 1000003u + static_cast<uint32_t>(tokens[static_cast<size_t>(p)]);
      std::memcpy(rows_.data() + p * kRow, &h, sizeof h);
      const uint32_t pos = static_cast<uint32_t>(p);
      std::memcpy(rows_.data() + p * kRow + 8, &pos, sizeof pos);
    }
    set_length(static_cast<int64_t>(tokens.size()));
  }
  uint64_t hash_at(int64_t p) const {
    uint64_t h;
    std::memcpy(&h, rows_.data() + p * kRow, sizeof h);
    return h;
  }
  std::span<const std::byte> all() const { return std::span(rows_).first(static_cast<size_t>(length()) * kRow); }

 private:
  void store_rows(int64_t first, int64_t count, std::span<const std::byte> in) override {
    std::memcpy(rows_.data() + first * kRow, in.data(), static_cast<size_t>(count) * kRow);
  }
  std::vector<std::byte> rows_;
};

std::vector<int32_t> tokens(int32_t start, size_t n) {
  std::vector<int32_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + static_cast<int32_t>(i * 7 % 13);
  return v;
}

PrefixStoreOptions options(size_t max_bytes = 1 << 20) { return {kRow, 4, max_bytes}; }

// Restores tokens' longest stored prefix into a fresh cache and checks it equals a full computation.
int64_t restore_and_check(PrefixStore& store, std::span<const int32_t> t) {
  FakeCache restored(64), computed(64);
  const int64_t n = store.match(t, static_cast<int64_t>(t.size()));
  store.restore(t, 0, n, restored);
  EXPECT_EQ(restored.length(), n);
  computed.compute(t, 0);
  EXPECT_EQ(0, std::memcmp(restored.all().data(), computed.all().data(), static_cast<size_t>(n) * kRow));
  return n;
}

TEST(PrefixStore, SharesWholeBlocksOfTheLongestPrefix) {
  PrefixStore store(options());
  FakeCache a(64);
  auto first = tokens(1, 18);
  a.compute(first, 0);
  store.insert(first, 18, a);
  EXPECT_EQ(store.stats().blocks, 4u);  // 16 of 18 tokens: whole blocks only
  EXPECT_EQ(store.match(first, 100), 16);
  EXPECT_EQ(store.match(first, 15), 12);  // bounded by the limit, in whole blocks
  auto diverging = first;
  diverging[9] += 1;  // differs inside the third block
  EXPECT_EQ(store.match(diverging, 100), 8);
  EXPECT_EQ(restore_and_check(store, first), 16);
  EXPECT_EQ(restore_and_check(store, diverging), 8);

  // Restoring on top of rows the cache already holds copies only the rest.
  FakeCache partial(64);
  partial.compute(std::span(first).first(6), 0);
  store.restore(first, 6, 16, partial);
  FakeCache full(64);
  full.compute(first, 0);
  EXPECT_EQ(partial.length(), 16);
  EXPECT_EQ(0, std::memcmp(partial.all().data(), full.all().data(), 16 * kRow));

  // Inserting a longer sequence adds only its new blocks.
  auto longer = first;
  longer.resize(30, 5);
  FakeCache b(64);
  b.compute(longer, 0);
  store.insert(longer, 30, b);
  EXPECT_EQ(store.stats().blocks, 7u);
  EXPECT_EQ(store.stats().bytes, 7u * 4 * kRow);
}

TEST(PrefixStore, EvictsLeastRecentlyUsedLeavesWithinItsBudget) {
  PrefixStore store(options(6 * 4 * kRow));  // room for six blocks
  auto old_prefix = tokens(100, 12), new_prefix = tokens(200, 12);
  FakeCache a(64), b(64);
  a.compute(old_prefix, 0);
  b.compute(new_prefix, 0);
  store.insert(old_prefix, 12, a);
  store.insert(new_prefix, 12, b);
  EXPECT_EQ(store.stats().blocks, 6u);
  // A seventh block overflows: the oldest prefix loses its leaves first, never a block in the middle.
  auto third = tokens(300, 4);
  FakeCache c(64);
  c.compute(third, 0);
  store.insert(third, 4, c);
  EXPECT_LE(store.stats().bytes, 6 * 4 * kRow);
  EXPECT_GT(store.stats().evicted_blocks, 0u);
  EXPECT_EQ(store.match(new_prefix, 12), 12);
  EXPECT_EQ(store.match(third, 4), 4);
  EXPECT_LT(store.match(old_prefix, 12), 12);
  restore_and_check(store, old_prefix);
}

TEST(PrefixStore, AdoptChecksParentHashAndSize) {
  PrefixStore store(options());
  auto block = tokens(1, 4);
  std::vector<std::byte> rows(4 * kRow);
  const uint64_t hash = prefix_hash(PrefixStore::kRootHash, block);
  EXPECT_FALSE(store.adopt(12345, prefix_hash(12345, block), block, rows));  // unknown parent
  EXPECT_FALSE(store.adopt(PrefixStore::kRootHash, hash ^ 1, block, rows));   // wrong hash
  EXPECT_FALSE(store.adopt(PrefixStore::kRootHash, hash, block, std::vector<std::byte>(3)));
  EXPECT_TRUE(store.adopt(PrefixStore::kRootHash, hash, block, rows));
  EXPECT_FALSE(store.adopt(PrefixStore::kRootHash, hash, block, rows));  // already there
  EXPECT_EQ(store.match(block, 4), 4);
}

class PrefixDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("whale-cache-" + std::to_string(::getpid()) + "-" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  PrefixDiskOptions disk_options(uint64_t fingerprint = 42) { return {dir_.string(), fingerprint, kRow, 4, 1 << 30}; }

  // Computes and stores `t` through a store that writes to disk, then drops both (a server that stops).
  void fill(std::span<const int32_t> t) {
    PrefixDisk disk(disk_options());
    PrefixStore store(options(), &disk);
    FakeCache cache(64);
    cache.compute(t, 0);
    store.insert(t, static_cast<int64_t>(t.size()), cache);
    disk.flush();
    EXPECT_EQ(disk.write_failures(), 0u);
  }
  std::vector<fs::path> files() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      if (e.is_regular_file()) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
};

TEST_F(PrefixDiskTest, CachedPrefixesSurviveARestart) {
  auto t = tokens(7, 17);
  fill(t);
  EXPECT_EQ(files().size(), 4u);
  PrefixDisk disk(disk_options());
  PrefixStore store(options(), &disk);
  const PrefixDiskLoad load = disk.load_into(store);
  EXPECT_EQ(load.loaded, 4u);
  EXPECT_EQ(load.damaged, 0u);
  EXPECT_EQ(restore_and_check(store, t), 16);
  // Already on disk: storing the same prefix again writes nothing.
  FakeCache cache(64);
  cache.compute(t, 0);
  store.insert(t, 17, cache);
  disk.flush();
  EXPECT_EQ(disk.written(), 0u);
}

TEST_F(PrefixDiskTest, DamagedTruncatedAndForeignFilesAreIgnored) {
  auto t = tokens(3, 16);
  fill(t);
  std::vector<fs::path> f = files();
  ASSERT_EQ(f.size(), 4u);
  // Find the file of each block by loading the records' order: damage three of the four in different ways.
  std::vector<char> bytes;
  {
    std::ifstream in(f[0], std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.size() / 2] ^= 0x40;  // a flipped bit in the rows
  std::ofstream(f[0], std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  fs::resize_file(f[1], fs::file_size(f[1]) - 5);  // truncated
  std::ofstream(f[2], std::ios::binary | std::ios::app) << "x";  // too long
  std::ofstream(f[0].parent_path() / "0000000000000001.kv") << "not a cache record";

  PrefixDisk disk(disk_options());
  PrefixStore store(options(), &disk);
  const PrefixDiskLoad load = disk.load_into(store);
  EXPECT_EQ(load.damaged, 4u);
  EXPECT_EQ(load.loaded + load.orphaned, 1u);
  // Whatever survived is a correct prefix; damaged files are gone.
  restore_and_check(store, t);
  EXPECT_EQ(files().size(), 1u);

  // Another model's folder is never read.
  PrefixDisk other(disk_options(43));
  PrefixStore other_store(options(), &other);
  EXPECT_EQ(other.load_into(other_store).loaded, 0u);
}

TEST_F(PrefixDiskTest, ARecordRenamedToAnotherPrefixIsRejected) {
  auto t = tokens(9, 8);
  fill(t);
  std::vector<fs::path> f = files();
  ASSERT_EQ(f.size(), 2u);
  // Swap the two files' names: each file's checksum is intact, but its tokens no longer match its name.
  fs::rename(f[0], f[0].string() + ".swap");
  fs::rename(f[1], f[0]);
  fs::rename(f[0].string() + ".swap", f[1]);
  PrefixDisk disk(disk_options());
  PrefixStore store(options(), &disk);
  EXPECT_EQ(disk.load_into(store).damaged, 2u);
  EXPECT_EQ(store.match(t, 8), 0);
}

TEST_F(PrefixDiskTest, AFailedWriteLeavesNothingBehindAndServingGoesOn) {
  auto t = tokens(5, 8);
  PrefixDisk disk(disk_options());
  PrefixStore store(options(), &disk);
  // The folder disappears under the server (replaced by a file): every write fails.
  const std::string folder = disk.folder();
  fs::remove_all(folder);
  std::ofstream(folder) << "in the way";
  FakeCache cache(64);
  cache.compute(t, 0);
  store.insert(t, 8, cache);
  disk.flush();
  EXPECT_EQ(disk.write_failures(), 2u);
  EXPECT_EQ(store.match(t, 8), 8);  // still served from memory
  fs::remove(folder);
}

TEST_F(PrefixDiskTest, ADiskThatFillsMidRecordLeavesNoPartialFile) {
  auto t = tokens(9, 16);
  {
    PrefixDisk disk(disk_options());
    PrefixStore store(options(), &disk);
    FakeCache cache(64);
    cache.compute(t, 0);
    // A file-size limit below one record makes write() fail part-way (EFBIG), as a full disk does (ENOSPC).
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit unlimited{};
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &unlimited), 0);
    rlimit full = unlimited;
    full.rlim_cur = 40;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &full), 0);
    store.insert(t, 16, cache);
    disk.flush();
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &unlimited), 0);
    EXPECT_EQ(disk.write_failures(), 4u);
    EXPECT_EQ(store.match(t, 16), 16);  // still served from memory
  }
  EXPECT_TRUE(files().empty()) << "a partial or temporary file was left behind";
  // With space again the same prefix is written whole and read back after a restart.
  fill(t);
  PrefixDisk disk(disk_options());
  PrefixStore store(options(), &disk);
  const PrefixDiskLoad load = disk.load_into(store);
  EXPECT_EQ(load.loaded, 4u);
  EXPECT_EQ(load.damaged, 0u);
  EXPECT_EQ(restore_and_check(store, t), 16);
}

TEST_F(PrefixDiskTest, UnusableFolderIsAClearError) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "file") << "x";
  PrefixDiskOptions o = disk_options();
  o.dir = (dir_ / "file").string();
  try {
    PrefixDisk disk(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--cache-dir"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace whale
