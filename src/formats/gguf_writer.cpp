// GGUF v3 writer (see gguf.h): header, metadata in insertion order, tensor table, aligned data. The file is
// written under a temporary name in the target folder and renamed into place once complete.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "formats/gguf.h"

namespace whale::gguf {

Writer::PendingTensor& Writer::add_pending(std::string name, DType dtype, Shape shape) {
  if (!dtype_is_gguf(dtype)) fail("GGUF writer: tensor {}: type {} has no GGUF id", name, dtype_name(dtype));
  if (shape.size() > 4) fail("GGUF writer: tensor {}: {} dimensions (at most 4)", name, shape.size());
  for (int64_t d : shape) {
    if (d <= 0) fail("GGUF writer: tensor {}: shape {} has a non-positive dimension", name, shape_string(shape));
  }
  const size_t block = dtype_info(dtype).block_elements;
  const int64_t row = shape.empty() ? 1 : shape.back();
  if (static_cast<size_t>(row) % block != 0) {
    fail("GGUF writer: tensor {}: row length {} is not a multiple of the {} block size {}", name, row,
         dtype_name(dtype), block);
  }
  if (!names_.insert(name).second) fail("GGUF writer: tensor {}: added twice", name);
  PendingTensor& t = tensors_.emplace_back();
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  int64_t elements = 1;
  for (int64_t d : t.shape) elements *= d;
  t.bytes = dtype_bytes(dtype, static_cast<uint64_t>(elements));
  t.data = nullptr;
  return t;
}

void Writer::add_tensor(std::string name, DType dtype, Shape shape, std::vector<uint8_t> data) {
  PendingTensor& t = add_pending(std::move(name), dtype, std::move(shape));
  if (data.size() != t.bytes) {
    std::string bad = t.name;
    tensors_.pop_back();
    names_.erase(bad);
    fail("GGUF writer: tensor {}: expected {} bytes of data, got {}", bad, t.bytes, data.size());
  }
  t.owned = std::move(data);
  t.data = t.owned.data();
}

void Writer::add_tensor_ref(std::string name, DType dtype, Shape shape, const uint8_t* data, size_t bytes) {
  PendingTensor& t = add_pending(std::move(name), dtype, std::move(shape));
  if (bytes != t.bytes) {
    std::string bad = t.name;
    tensors_.pop_back();
    names_.erase(bad);
    fail("GGUF writer: tensor {}: expected {} bytes of data, got {}", bad, t.bytes, bytes);
  }
  t.data = data;
}

void Writer::add_tensor_generated(std::string name, DType dtype, Shape shape, Fill fill) {
  PendingTensor& t = add_pending(std::move(name), dtype, std::move(shape));
  t.fill = std::move(fill);
}

namespace {

// Buffered output to a temporary file that becomes `path` on commit().
class AtomicOutput {
 public:
  explicit AtomicOutput(const std::string& path) : path_(path), temp_(path + ".tmp-XXXXXX") {
    int fd = ::mkstemp(temp_.data());
    if (fd < 0) fail("{}: cannot create a temporary file next to it: {}", path_, std::strerror(errno));
    file_ = ::fdopen(fd, "wb");
    if (file_ == nullptr) {
      ::close(fd);
      ::unlink(temp_.c_str());
      fail("{}: cannot open the temporary file: {}", path_, std::strerror(errno));
    }
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  }
  ~AtomicOutput() {
    if (file_ != nullptr) {
      std::fclose(file_);
      ::unlink(temp_.c_str());
    }
  }
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  void write(const void* data, size_t n) {
    if (n != 0 && std::fwrite(data, 1, n, file_) != n) fail("{}: write error: {}", path_, std::strerror(errno));
    pos_ += n;
  }
  template <typename T>
  void put(T value) {
    write(&value, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    write(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    static const uint8_t kZeros[256] = {};
    while (pos_ % alignment != 0) {
      write(kZeros, std::min<uint64_t>(sizeof(kZeros), alignment - pos_ % alignment));
    }
  }
  uint64_t pos() const { return pos_; }

  void commit() {
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) {
      fail("{}: write error: {}", path_, std::strerror(errno));
    }
    const int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) {
      ::unlink(temp_.c_str());
      fail("{}: write error: {}", path_, std::strerror(errno));
    }
    ::chmod(temp_.c_str(), 0644);
    if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
      int err = errno;
      ::unlink(temp_.c_str());
      fail("{}: cannot rename the finished file into place: {}", path_, std::strerror(err));
    }
  }

 private:
  std::string path_;
  std::string temp_;
  std::FILE* file_ = nullptr;
  uint64_t pos_ = 0;
};

void write_value(AtomicOutput& out, const Value& value, const std::string& key);

void write_array(AtomicOutput& out, const ArrayValue& array, const std::string& key) {
  out.put<uint32_t>(static_cast<uint32_t>(array.element_type));
  out.put<uint64_t>(array.items.size());
  for (const Value& item : array.items) {
    if (item.type() != array.element_type) {
      fail("GGUF writer: key {}: array of {} holds a {}", key, value_type_name(array.element_type),
           value_type_name(item.type()));
    }
    write_value(out, item, key);
  }
}

void write_value(AtomicOutput& out, const Value& value, const std::string& key) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out.put_string(x);
        } else if constexpr (std::is_same_v<T, ArrayValue>) {
          write_array(out, x, key);
        } else if constexpr (std::is_same_v<T, bool>) {
          out.put<uint8_t>(x ? 1 : 0);
        } else {
          out.put<T>(x);
        }
      },
      value.v);
}

}  // namespace

void Writer::write(const std::string& path) const {
  uint64_t alignment = kDefaultAlignment;
  if (const Value* a = metadata_.find("general.alignment")) {
    const int64_t value = a->as_int("GGUF writer: key general.alignment");
    if (value <= 0 || value > (int64_t{1} << 30) || !std::has_single_bit(static_cast<uint64_t>(value))) {
      fail("GGUF writer: key general.alignment: expected a power of two, got {}", value);
    }
    alignment = static_cast<uint64_t>(value);
  }

  AtomicOutput out(path);
  out.put<uint32_t>(kMagic);
  out.put<uint32_t>(3);
  out.put<uint64_t>(tensors_.size());
  out.put<uint64_t>(metadata_.entries().size());
  for (const auto& [key, value] : metadata_.entries()) {
    out.put_string(key);
    out.put<uint32_t>(static_cast<uint32_t>(value.type()));
    write_value(out, value, key);
  }

  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    out.put_string(t.name);
    out.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) out.put<uint64_t>(static_cast<uint64_t>(*it));
    out.put<uint32_t>(static_cast<uint32_t>(t.dtype));
    out.put<uint64_t>(offset);
    offset += (t.bytes + alignment - 1) / alignment * alignment;
  }
  out.pad_to(alignment);

  std::vector<uint8_t> scratch;
  for (const PendingTensor& t : tensors_) {
    if (t.fill) {
      scratch.assign(t.bytes, 0);
      t.fill(scratch.data());
      out.write(scratch.data(), scratch.size());
    } else {
      out.write(t.data, t.bytes);
    }
    out.pad_to(alignment);  // data_start is aligned, so this aligns the next offset within the section too
  }
  out.commit();
}

}  // namespace whale::gguf
