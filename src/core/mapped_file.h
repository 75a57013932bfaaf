// A whole file, read-only: memory-mapped, or copied into anonymous memory backed by 2 MiB huge pages.
//
// Model weights are used in place from this memory. Mapped file pages are 4 KiB, and the hardware prefetchers
// stop at every 4 KiB boundary, so decode (which streams every weight once a token) runs well below the
// memory bandwidth from a plain map: the R1-Distill-Qwen-1.5B shape at Q4_K_M decoded 1.27-1.37x faster
// from huge pages on one thread. Inference therefore copies; tools that read a file once (info, convert,
// quantize) map it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace whale {

class MappedFile {
 public:
  enum class Residency {
    Map,             // mmap of the file: pages come in on first touch and are shared with the page cache
    HugePageCopy,    // read into anonymous memory advised for transparent huge pages, then made read-only
  };
  // Throws whale::Error naming the file when it cannot be opened, mapped, allocated or read.
  explicit MappedFile(std::string path, Residency residency = Residency::Map);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a whole (small) file into a string; throws whale::Error naming the file on failure.
std::string read_text_file(const std::string& path);

}  // namespace whale
