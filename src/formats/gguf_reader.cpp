// GGUF reader: parses and validates a whole file over a memory map (see gguf.h). Every count and size read
// from the file is checked against the bytes that remain before anything is allocated for it, so a hostile
// file ends in a whale::Error, never a crash, a hang or a giant allocation.
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "formats/gguf.h"

namespace whale::gguf {
namespace {

constexpr uint32_t kMaxDims = 4;            // ggml's limit; llama.cpp rejects more
constexpr int kMaxArrayNesting = 8;         // deeper nesting is not used by any writer and could exhaust the stack
constexpr uint64_t kMaxMetadataValues = uint64_t{1} << 24;  // total scalar values; real vocabularies need ~1M
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;                 // empty key, type, smallest value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;     // empty name, n_dims = 0, type, offset

// Smallest encoding of one value of `type`, used to bound counts by the remaining bytes.
uint64_t min_value_bytes(ValueType type) {
  switch (type) {
    case ValueType::Uint8: case ValueType::Int8: case ValueType::Bool: return 1;
    case ValueType::Uint16: case ValueType::Int16: return 2;
    case ValueType::Uint32: case ValueType::Int32: case ValueType::Float32: return 4;
    case ValueType::Uint64: case ValueType::Int64: case ValueType::Float64: return 8;
    case ValueType::String: return 8;
    case ValueType::Array: return 4 + 8;
  }
  return 1;
}

bool known_value_type(uint32_t id) { return id <= static_cast<uint32_t>(ValueType::Float64); }

// A bounds-checked little-endian cursor over the mapped bytes.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* data, size_t size) : path_(path), data_(data), size_(size) {}

  size_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  const std::string& path() const { return path_; }

  void need(uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      fail("{}: truncated: {} needs {} bytes at offset {}, but only {} remain", path_, what, n, pos_,
           remaining());
    }
  }
  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  std::string read_string(std::string_view what) {
    const uint64_t length = read<uint64_t>(what);
    if (length > remaining()) {
      fail("{}: {}: string length {} is larger than the {} bytes left in the file", path_, what, length,
           remaining());
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(length));
    pos_ += static_cast<size_t>(length);
    return s;
  }

 private:
  const std::string& path_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

class MetadataParser {
 public:
  explicit MetadataParser(Cursor& cursor) : cursor_(cursor) {}

  Value read_value(ValueType type, const std::string& what, int depth) {
    switch (type) {
      case ValueType::Uint8: return Value{cursor_.read<uint8_t>(what)};
      case ValueType::Int8: return Value{cursor_.read<int8_t>(what)};
      case ValueType::Uint16: return Value{cursor_.read<uint16_t>(what)};
      case ValueType::Int16: return Value{cursor_.read<int16_t>(what)};
      case ValueType::Uint32: return Value{cursor_.read<uint32_t>(what)};
      case ValueType::Int32: return Value{cursor_.read<int32_t>(what)};
      case ValueType::Float32: return Value{cursor_.read<float>(what)};
      case ValueType::Uint64: return Value{cursor_.read<uint64_t>(what)};
      case ValueType::Int64: return Value{cursor_.read<int64_t>(what)};
      case ValueType::Float64: return Value{cursor_.read<double>(what)};
      case ValueType::Bool: {
        const uint8_t b = cursor_.read<uint8_t>(what);
        if (b > 1) fail("{}: {}: expected a bool (0 or 1), got {}", cursor_.path(), what, b);
        return Value{b == 1};
      }
      case ValueType::String: return Value{cursor_.read_string(what)};
      case ValueType::Array: return Value{read_array(what, depth + 1)};
    }
    WHALE_ASSERT(false && "value type checked by the caller");
    return Value{};
  }

  ValueType read_type(const std::string& what) {
    const uint32_t id = cursor_.read<uint32_t>(what);
    if (!known_value_type(id)) {
      fail("{}: {}: unknown value type {} (expected 0..12)", cursor_.path(), what, id);
    }
    return static_cast<ValueType>(id);
  }

 private:
  ArrayValue read_array(const std::string& what, int depth) {
    if (depth > kMaxArrayNesting) {
      fail("{}: {}: arrays nested deeper than {} levels", cursor_.path(), what, kMaxArrayNesting);
    }
    ArrayValue array;
    array.element_type = read_type(what + " (array element type)");
    const uint64_t count = cursor_.read<uint64_t>(what + " (array length)");
    const uint64_t max_count = cursor_.remaining() / min_value_bytes(array.element_type);
    if (count > max_count) {
      fail("{}: {}: array length {} is larger than the file can hold ({} bytes left, at most {} {} values)",
           cursor_.path(), what, count, cursor_.remaining(), max_count, value_type_name(array.element_type));
    }
    values_ += count;
    if (values_ > kMaxMetadataValues) {
      fail("{}: {}: metadata holds more than {} values in all", cursor_.path(), what, kMaxMetadataValues);
    }
    // Grow with what is actually parsed: a count that passes the byte check can still ask for ~40x the file
    // size in Value objects up front.
    array.items.reserve(static_cast<size_t>(std::min<uint64_t>(count, 1u << 16)));
    for (uint64_t i = 0; i < count; ++i) {
      array.items.push_back(read_value(array.element_type, what, depth));
    }
    return array;
  }

  Cursor& cursor_;
  uint64_t values_ = 0;
};

std::string known_tensor_types() {
  std::string names;
  for (uint32_t id = 0; id < 64; ++id) {
    auto info = dtype_info(id);
    if (!info) continue;
    if (!names.empty()) names += ", ";
    names += info->name;
  }
  return names;
}

}  // namespace

File File::open(const std::string& path, MappedFile::Residency residency) {
  File file;
  file.map_ = std::make_shared<MappedFile>(path, residency);
  file.metadata_ = Metadata(path);
  Cursor cur(file.map_->path(), file.map_->data(), file.map_->size());

  // Header.
  cur.need(4, "the magic \"GGUF\"");
  const uint32_t magic = cur.read<uint32_t>("magic");
  if (magic != kMagic) {
    const uint8_t* m = file.map_->data();
    fail("{}: not a GGUF file: expected magic \"GGUF\" (47 47 55 46), got {:02x} {:02x} {:02x} {:02x}", path,
         m[0], m[1], m[2], m[3]);
  }
  file.version_ = cur.read<uint32_t>("version");
  if (file.version_ != 2 && file.version_ != 3) {
    if (__builtin_bswap32(file.version_) == 2 || __builtin_bswap32(file.version_) == 3) {
      fail("{}: GGUF version {} looks byte-swapped: big-endian files are not supported", path, file.version_);
    }
    fail("{}: unsupported GGUF version {} (expected 2 or 3)", path, file.version_);
  }
  const uint64_t tensor_count = cur.read<uint64_t>("tensor count");
  const uint64_t kv_count = cur.read<uint64_t>("metadata key/value count");
  if (tensor_count > cur.remaining() / kMinTensorInfoBytes) {
    fail("{}: header: tensor count {} is larger than the file can hold ({} bytes left, at most {} tensors): "
         "truncated or corrupt file",
         path, tensor_count, cur.remaining(), cur.remaining() / kMinTensorInfoBytes);
  }
  if (kv_count > cur.remaining() / kMinKvBytes) {
    fail("{}: header: metadata key/value count {} is larger than the file can hold ({} bytes left, at most {}): "
         "truncated or corrupt file",
         path, kv_count, cur.remaining(), cur.remaining() / kMinKvBytes);
  }

  // Metadata.
  MetadataParser parser(cur);
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = cur.read_string(fmt::format("key #{}", i));
    const std::string what = fmt::format("key {}", key);
    if (file.metadata_.has(key)) fail("{}: {}: duplicate key", path, what);
    const ValueType type = parser.read_type(what + " (value type)");
    Value value = parser.read_value(type, what, 0);
    file.metadata_.set(std::move(key), std::move(value));
  }
  if (const Value* alignment = file.metadata_.find("general.alignment")) {
    const int64_t a = alignment->as_int(fmt::format("{}: key general.alignment", path));
    if (a <= 0 || a > (int64_t{1} << 30) || !std::has_single_bit(static_cast<uint64_t>(a))) {
      fail("{}: key general.alignment: expected a power of two between 1 and 2^30, got {}", path, a);
    }
    file.alignment_ = static_cast<uint32_t>(a);
  }

  // Tensor table.
  if (tensor_count > cur.remaining() / kMinTensorInfoBytes) {
    fail("{}: header: tensor count {} is larger than the file can hold ({} bytes left after the metadata)",
         path, tensor_count, cur.remaining());
  }
  struct Info {
    uint32_t type;
    uint64_t offset;
  };
  std::vector<Info> infos;
  infos.reserve(static_cast<size_t>(tensor_count));
  file.tensors_.reserve(static_cast<size_t>(tensor_count));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    TensorView t;
    t.name = cur.read_string(fmt::format("name of tensor #{}", i));
    const std::string what = fmt::format("tensor {}", t.name);
    if (file.tensor_index_.count(t.name) != 0) fail("{}: {}: duplicate tensor name", path, what);
    const uint32_t n_dims = cur.read<uint32_t>(what + " (dimension count)");
    if (n_dims > kMaxDims) fail("{}: {}: {} dimensions (expected at most {})", path, what, n_dims, kMaxDims);
    uint64_t dims[kMaxDims] = {};
    for (uint32_t d = 0; d < n_dims; ++d) dims[d] = cur.read<uint64_t>(what + " (dimension)");
    const uint32_t type = cur.read<uint32_t>(what + " (type)");
    const uint64_t offset = cur.read<uint64_t>(what + " (data offset)");

    auto info = dtype_info(type);
    if (!info || !dtype_is_gguf(static_cast<DType>(type))) {
      fail("{}: {}: unknown tensor type id {} (expected one of {})", path, what, type, known_tensor_types());
    }
    t.dtype = static_cast<DType>(type);
    // GGUF lists dimensions innermost first; whale's shapes are outermost first.
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      if (dims[d] == 0 || dims[d] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail("{}: {}: dimension {} is {} (expected a positive size)", path, what, d, dims[d]);
      }
      if (elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / dims[d]) {
        fail("{}: {}: element count overflows (dimensions too large)", path, what);
      }
      elements *= dims[d];
      t.shape.insert(t.shape.begin(), static_cast<int64_t>(dims[d]));
    }
    const uint64_t row = n_dims == 0 ? 1 : dims[0];
    if (row % info->block_elements != 0) {
      fail("{}: {}: row length {} is not a multiple of the {} block size {}", path, what, row, info->name,
           info->block_elements);
    }
    if (offset % file.alignment_ != 0) {
      fail("{}: {}: data offset {} is not a multiple of the alignment {}", path, what, offset,
           file.alignment_);
    }
    // Bytes cannot overflow: elements < 2^63 and block_bytes / block_elements <= 4.
    t.bytes = static_cast<size_t>(elements / info->block_elements * info->block_bytes);
    infos.push_back({type, offset});
    file.tensor_index_.emplace(t.name, file.tensors_.size());
    file.tensors_.push_back(std::move(t));
  }

  // Tensor data: an aligned section after the table; offsets are relative to its start.
  const uint64_t data_start = (cur.pos() + file.alignment_ - 1) / file.alignment_ * file.alignment_;
  file.data_offset_ = static_cast<size_t>(data_start);
  const uint64_t data_size = data_start <= file.map_->size() ? file.map_->size() - data_start : 0;
  for (size_t i = 0; i < file.tensors_.size(); ++i) {
    TensorView& t = file.tensors_[i];
    const uint64_t offset = infos[i].offset;
    if (offset > data_size || t.bytes > data_size - offset) {
      fail("{}: tensor {}: data [{}, {}) lies outside the data section of {} bytes (file truncated?)", path,
           t.name, offset, offset + t.bytes, data_size);
    }
    t.data = file.map_->data() + data_start + offset;
  }
  return file;
}

const TensorView* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& File::tensor(std::string_view name) const {
  const TensorView* t = find_tensor(name);
  if (t == nullptr) fail("{}: tensor {}: missing", path(), name);
  return *t;
}

}  // namespace whale::gguf
