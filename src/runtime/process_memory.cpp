// Memory figures from /proc (see process_memory.h).
#include "runtime/process_memory.h"

#include <fstream>
#include <string>

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

}  // namespace whale
