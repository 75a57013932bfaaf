// Memory figures of the machine and of this process, from /proc (Linux). Used to size the KV cache to what
// fits and to report peak memory after a run.
#pragma once

#include <cstdint>
#include <string_view>

namespace whale {

// A /proc/meminfo field ("MemTotal", "MemAvailable") in bytes; 0 when unknown.
uint64_t meminfo_bytes(std::string_view field);
// Peak resident set size of this process (VmHWM) in bytes; 0 when unknown. Memory-mapped weights count once
// their pages have been read.
uint64_t peak_rss_bytes();

}  // namespace whale
