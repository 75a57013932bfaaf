// PrefixDisk (see prefix_disk.h).
#include "runtime/prefix_disk.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "core/log.h"
#include "formats/model_source.h"
#include "runtime/prefix_store.h"

namespace whale {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'W', 'H', 'A', 'L', 'E', 'K', 'V', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8 + 8 + 8 + 8;
constexpr size_t kMaxQueuedBytes = 256u << 20;

uint64_t fnv1a(std::span<const std::byte> bytes, uint64_t h = 0xcbf29ce484222325ull) {
  for (std::byte b : bytes) {
    h ^= static_cast<uint8_t>(b);
    h *= 0x100000001b3ull;
  }
  return h;
}

template <class T>
void put(std::vector<std::byte>& out, T value) {
  const auto* p = reinterpret_cast<const std::byte*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

template <class T>
T get(const std::byte* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

std::string hex(uint64_t v) { return fmt::format("{:016x}", v); }

}  // namespace

uint64_t model_fingerprint(const ModelSource& source) {
  const std::string arch = source.architecture();
  uint64_t h = fnv1a(std::as_bytes(std::span(arch)));
  for (const TensorView& t : source.tensors()) {
    h = fnv1a(std::as_bytes(std::span(t.name)), h);
    const auto type = static_cast<uint32_t>(t.dtype);
    h = fnv1a(std::as_bytes(std::span(&type, 1)), h);
    h = fnv1a(std::as_bytes(std::span(t.shape)), h);
    // Samples of the bytes, so files of the same shape with other weights differ.
    const size_t sample = std::min<size_t>(t.bytes, 4096);
    h = fnv1a(std::as_bytes(std::span(t.data, sample)), h);
    h = fnv1a(std::as_bytes(std::span(t.data + t.bytes - sample, sample)), h);
    h = fnv1a(std::as_bytes(std::span(t.data + (t.bytes - sample) / 2, sample)), h);
  }
  return h;
}

PrefixDisk::PrefixDisk(PrefixDiskOptions options) : options_(std::move(options)) {
  WHALE_ASSERT(options_.row_bytes > 0 && options_.block_tokens > 0);
  folder_ = (fs::path(options_.dir) / hex(options_.model_fingerprint)).string();
  std::error_code ec;
  fs::create_directories(folder_, ec);
  if (ec) fail("--cache-dir {}: cannot create {}: {}", options_.dir, folder_, ec.message());
  if (access(folder_.c_str(), W_OK) != 0) fail("--cache-dir {}: {} is not writable", options_.dir, folder_);
  record_bytes_ = kHeaderBytes + static_cast<size_t>(options_.block_tokens) * (sizeof(int32_t) + options_.row_bytes) +
                  sizeof(uint64_t);
  thread_ = std::thread([this] { writer_loop(); });
}

PrefixDisk::~PrefixDisk() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  thread_.join();
}

PrefixDiskLoad PrefixDisk::load_into(PrefixStore& store) {
  struct Record {
    uint64_t hash;
    std::vector<int32_t> tokens;
    std::vector<std::byte> rows;
    fs::file_time_type written;
  };
  PrefixDiskLoad result;
  std::multimap<uint64_t, Record> by_parent;
  const size_t tokens_bytes = static_cast<size_t>(options_.block_tokens) * sizeof(int32_t);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder_, ec)) {
    const fs::path path = entry.path();
    const std::string name = path.filename().string();
    if (name.starts_with(".") && name.ends_with(".tmp")) {  // a write that never finished
      fs::remove(path, ec);
      continue;
    }
    if (path.extension() != ".kv") continue;
    auto reject = [&](std::string_view why) {
      log(LogLevel::Warn, "cache: ignoring damaged cache file {}: {}", path.string(), why);
      fs::remove(path, ec);
      ++result.damaged;
    };
    const auto size = entry.file_size(ec);
    if (ec || size != record_bytes_) {
      reject(fmt::format("expected {} bytes, found {}", record_bytes_, ec ? 0 : size));
      continue;
    }
    std::vector<std::byte> bytes(record_bytes_);
    std::ifstream in(path, std::ios::binary);
    if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
      reject("unreadable");
      continue;
    }
    const std::byte* p = bytes.data();
    const size_t body = record_bytes_ - sizeof(uint64_t);
    if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0 || get<uint32_t>(p + 8) != kVersion) {
      reject("not a whale cache record of this version");
      continue;
    }
    if (get<uint64_t>(p + body) != fnv1a(std::span(bytes).first(body))) {
      reject("checksum mismatch");
      continue;
    }
    if (get<uint32_t>(p + 12) != static_cast<uint32_t>(options_.block_tokens) ||
        get<uint64_t>(p + 16) != options_.model_fingerprint || get<uint64_t>(p + 24) != options_.row_bytes) {
      reject("written for another model or block size");
      continue;
    }
    Record record;
    const uint64_t parent = get<uint64_t>(p + 32);
    record.hash = get<uint64_t>(p + 40);
    record.tokens.resize(static_cast<size_t>(options_.block_tokens));
    std::memcpy(record.tokens.data(), p + kHeaderBytes, tokens_bytes);
    if (prefix_hash(parent, record.tokens) != record.hash || name != hex(record.hash) + ".kv") {
      reject("its tokens do not match its name");
      continue;
    }
    record.rows.assign(p + kHeaderBytes + tokens_bytes, p + body);
    record.written = entry.last_write_time(ec);
    by_parent.emplace(parent, std::move(record));
  }
  if (ec) log(LogLevel::Warn, "cache: reading {}: {}", folder_, ec.message());

  // Parents before children, starting from the first blocks of prefixes.
  std::vector<std::pair<fs::file_time_type, uint64_t>> kept;
  std::vector<uint64_t> frontier = {PrefixStore::kRootHash};
  while (!frontier.empty()) {
    const uint64_t parent = frontier.back();
    frontier.pop_back();
    auto [first, last] = by_parent.equal_range(parent);
    for (auto it = first; it != last; ++it) {
      Record& r = it->second;
      kept.emplace_back(r.written, r.hash);
      if (store.adopt(parent, r.hash, r.tokens, std::move(r.rows))) {
        ++result.loaded;
        frontier.push_back(r.hash);
      } else {
        ++result.orphaned;
      }
    }
    by_parent.erase(first, last);
  }
  result.orphaned += by_parent.size();
  for (auto& [parent, r] : by_parent) kept.emplace_back(r.written, r.hash);
  std::sort(kept.begin(), kept.end());
  std::lock_guard lock(mutex_);
  for (const auto& [time, hash] : kept) {
    if (on_disk_.insert(hash).second) disk_order_.push_back(hash);
  }
  forget_oldest_over_budget();
  return result;
}

void PrefixDisk::save(uint64_t parent_hash, uint64_t hash, std::span<const int32_t> tokens,
                      std::span<const std::byte> rows) {
  WHALE_ASSERT(static_cast<int64_t>(tokens.size()) == options_.block_tokens &&
               rows.size() == tokens.size() * options_.row_bytes);
  {
    std::lock_guard lock(mutex_);
    if (on_disk_.count(hash) != 0 || queued_bytes_ + record_bytes_ > kMaxQueuedBytes || stopping_) return;
  }
  Job job;
  job.hash = hash;
  job.record.reserve(record_bytes_);
  job.record.insert(job.record.end(), reinterpret_cast<const std::byte*>(kMagic),
                    reinterpret_cast<const std::byte*>(kMagic) + sizeof(kMagic));
  put(job.record, kVersion);
  put(job.record, static_cast<uint32_t>(options_.block_tokens));
  put(job.record, options_.model_fingerprint);
  put(job.record, static_cast<uint64_t>(options_.row_bytes));
  put(job.record, parent_hash);
  put(job.record, hash);
  const auto token_bytes = std::as_bytes(tokens);
  job.record.insert(job.record.end(), token_bytes.begin(), token_bytes.end());
  job.record.insert(job.record.end(), rows.begin(), rows.end());
  put(job.record, fnv1a(job.record));
  WHALE_ASSERT(job.record.size() == record_bytes_);
  {
    std::lock_guard lock(mutex_);
    queued_bytes_ += record_bytes_;
    queue_.push_back(std::move(job));
  }
  work_.notify_one();
}

void PrefixDisk::flush() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return queue_.empty() && !writing_; });
}

uint64_t PrefixDisk::written() const {
  std::lock_guard lock(mutex_);
  return written_;
}

uint64_t PrefixDisk::write_failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

void PrefixDisk::writer_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, and everything queued is written
    Job job = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    const bool ok = write_file(job);
    lock.lock();
    writing_ = false;
    queued_bytes_ -= record_bytes_;
    if (ok) {
      ++written_;
      if (on_disk_.insert(job.hash).second) disk_order_.push_back(job.hash);
      forget_oldest_over_budget();
    } else {
      ++failures_;
    }
    if (queue_.empty()) idle_.notify_all();
  }
  idle_.notify_all();
}

bool PrefixDisk::write_file(const Job& job) {
  const std::string name = hex(job.hash) + ".kv";
  const std::string final_path = folder_ + "/" + name;
  const std::string temp_path = folder_ + "/." + name + ".tmp";
  auto failed = [&](const char* step) {
    const int err = errno;
    unlink(temp_path.c_str());
    // Once per run is enough to tell the operator; the server keeps serving from memory.
    static std::atomic<bool> reported{false};
    if (!reported.exchange(true)) {
      log(LogLevel::Warn, "cache: cannot {} {}: {} (cache blocks are kept in memory only)", step, temp_path,
          std::strerror(err));
    }
    return false;
  };
  const int fd = open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return failed("create");
  size_t done = 0;
  while (done < job.record.size()) {
    const ssize_t n = write(fd, job.record.data() + done, job.record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return failed("write");
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    close(fd);
    return failed("sync");
  }
  if (close(fd) != 0) return failed("close");
  if (rename(temp_path.c_str(), final_path.c_str()) != 0) return failed("rename");
  return true;
}

void PrefixDisk::forget_oldest_over_budget() {
  const uint64_t limit = std::max<uint64_t>(options_.max_bytes / record_bytes_, 1);
  while (disk_order_.size() > limit) {
    const uint64_t hash = disk_order_.front();
    disk_order_.pop_front();
    on_disk_.erase(hash);
    std::error_code ec;
    fs::remove(fs::path(folder_) / (hex(hash) + ".kv"), ec);
  }
}

}  // namespace whale
