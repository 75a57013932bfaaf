// Memory figures of the machine and of this process, from /proc (Linux). Used to size the KV cache to what
// fits and to report peak memory after a run.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace whale {

// A /proc/meminfo field ("MemTotal", "MemAvailable") in bytes; 0 when unknown.
uint64_t meminfo_bytes(std::string_view field);
// Peak resident set size of this process (VmHWM) in bytes; 0 when unknown. Memory-mapped weights count once
// their pages have been read.
uint64_t peak_rss_bytes();

// Memory this process may still take: MemAvailable, lowered to what is left under the cgroup (v2) limit when
// one is set (containers). `source` says which figure applied. bytes is 0 when unknown.
struct AvailableMemory {
  uint64_t bytes = 0;
  std::string source;
};
AvailableMemory available_memory();

// What serving a model keeps resident: its weights (memory-mapped or converted) and the KV caches allocated
// up front. The shared context cache is not counted: it grows on demand up to its own cap.
struct MemoryNeed {
  uint64_t weights = 0;
  uint64_t kv_cache = 0;
  std::string kv_shape;  // "4 sequences x 4096 tokens"
};
// Refuses (whale::Error naming `model`, what is needed and what is available) when `need` does not fit in
// `available`. Does nothing when the available figure is unknown.
void check_memory_fits(const std::string& model, const MemoryNeed& need, const AvailableMemory& available);

}  // namespace whale
