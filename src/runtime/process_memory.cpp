// Memory figures from /proc (see process_memory.h).
#include "runtime/process_memory.h"

#include <algorithm>
#include <fstream>
#include <optional>
#include <string>

#include "core/error.h"

namespace whale {
namespace {

// The value in kB of "FIELD:  N kB" in a /proc file, as bytes.
uint64_t proc_field_bytes(const char* path, std::string_view field) {
  std::ifstream in(path);
  std::string key, unit;
  uint64_t kib = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 && line[field.size()] == ':') {
      kib = std::stoull(line.substr(field.size() + 1));
      return kib * 1024;
    }
  }
  return 0;
}

}  // namespace

uint64_t meminfo_bytes(std::string_view field) { return proc_field_bytes("/proc/meminfo", field); }

uint64_t peak_rss_bytes() { return proc_field_bytes("/proc/self/status", "VmHWM"); }

namespace {

// A number from a one-line cgroup file; nullopt for "max", a missing file or anything unreadable.
std::optional<uint64_t> cgroup_number(const std::string& file) {
  std::ifstream in("/sys/fs/cgroup/" + file);
  std::string text;
  if (!(in >> text) || text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoull(text);
}

double gib(uint64_t bytes) { return static_cast<double>(bytes) / static_cast<double>(1ull << 30); }

}  // namespace

AvailableMemory available_memory() {
  AvailableMemory available{meminfo_bytes("MemAvailable"), "MemAvailable in /proc/meminfo"};
  const auto limit = cgroup_number("memory.max");
  const auto used = cgroup_number("memory.current");
  if (limit && used) {
    const uint64_t left = *limit > *used ? *limit - *used : 0;
    if (available.bytes == 0 || left < available.bytes) available = {left, "the cgroup's memory.max"};
  }
  return available;
}

void check_memory_fits(const std::string& model, const MemoryNeed& need, const AvailableMemory& available) {
  const uint64_t total = need.weights + need.kv_cache;
  if (available.bytes == 0 || total <= available.bytes) return;
  std::string advice = need.kv_cache > available.bytes / 4
                           ? "lower --ctx or --parallel, or use a smaller quantization"
                           : "use a smaller quantization (whale quantize) or a machine with more memory";
  fail("{}: needs about {:.2f} GiB of memory (weights {:.2f} GiB + KV cache {:.2f} GiB for {}), but only {:.2f} GiB "
       "is available ({}); {}, or pass --no-memory-check to load it anyway",
       model, gib(total), gib(need.weights), gib(need.kv_cache), need.kv_shape, gib(available.bytes),
       available.source, advice);
}

}  // namespace whale
