// GGUF: the model file format of the ggml / llama.cpp ecosystem. A header, typed key/value metadata, a table of
// tensor infos, then aligned tensor data. whale reads v2 and v3 files over a memory map and writes v3.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace whale::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
inline constexpr uint32_t kDefaultAlignment = 32;

enum class ValueType : uint32_t {
  Uint8 = 0, Int8 = 1, Uint16 = 2, Int16 = 3, Uint32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
  String = 8, Array = 9, Uint64 = 10, Int64 = 11, Float64 = 12,
};
std::string_view value_type_name(ValueType type);

struct Value;
struct ArrayValue {
  ValueType element_type = ValueType::Uint8;
  std::vector<Value> items;
};

// One metadata value. The variant lists its alternatives in the order of the GGUF type ids, so type() is the
// variant index.
struct Value {
  std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string, ArrayValue,
               uint64_t, int64_t, double>
      v;

  ValueType type() const;
  // Typed access; each throws whale::Error (naming `what`, e.g. "file.gguf: key general.name") when the value
  // has another type. as_int accepts every integer type, as_float every float and integer type.
  int64_t as_int(std::string_view what) const;
  double as_float(std::string_view what) const;
  bool as_bool(std::string_view what) const;
  const std::string& as_string(std::string_view what) const;
  const ArrayValue& as_array(std::string_view what) const;
};

// Key/value metadata in insertion order, with typed getters. `source` (a file path) prefixes error messages.
// Used for GGUF files and for Hugging Face folders, whose config.json is translated into the same keys.
class Metadata {
 public:
  explicit Metadata(std::string source = {}) : source_(std::move(source)) {}

  const std::string& source() const { return source_; }
  void set(std::string key, Value value);  // replaces an existing key in place
  void set_string(std::string key, std::string value);
  void set_uint32(std::string key, uint32_t value);
  void set_int32(std::string key, int32_t value);
  void set_float32(std::string key, float value);
  void set_bool(std::string key, bool value);
  void set_string_array(std::string key, const std::vector<std::string>& values);
  void set_int32_array(std::string key, const std::vector<int32_t>& values);
  void set_float32_array(std::string key, const std::vector<float>& values);

  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Typed getters: the required form throws when the key is missing or of the wrong type; the optional form
  // returns nullopt when missing and throws when present with the wrong type.
  int64_t get_int(std::string_view key) const;
  std::optional<int64_t> find_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  std::optional<double> find_float(std::string_view key) const;
  std::optional<bool> find_bool(std::string_view key) const;
  std::string get_string(std::string_view key) const;
  std::optional<std::string> find_string(std::string_view key) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  std::vector<double> get_float_array(std::string_view key) const;

 private:
  std::string what(std::string_view key) const;  // "source: key NAME", the prefix of error messages
  const Value& require(std::string_view key) const;

  std::string source_;
  std::vector<std::pair<std::string, Value>> entries_;
  std::map<std::string, size_t, std::less<>> index_;
};

// A parsed GGUF file. Tensor data stays in the memory map; TensorView::data points into it.
class File {
 public:
  // Opens and validates a whole file: header, every metadata value, the tensor table (names unique, types
  // known, shapes sane, data inside the file and aligned). Throws whale::Error naming the file and the key or
  // tensor at fault.
  static File open(const std::string& path, MappedFile::Residency residency = MappedFile::Residency::Map);

  const std::string& path() const { return map_->path(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  size_t file_size() const { return map_->size(); }
  size_t data_offset() const { return data_offset_; }  // where the tensor data section starts
  const Metadata& metadata() const { return metadata_; }

  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find_tensor(std::string_view name) const;
  // Throws whale::Error naming the file and tensor when missing.
  const TensorView& tensor(std::string_view name) const;

 private:
  std::shared_ptr<MappedFile> map_;
  uint32_t version_ = 3;
  uint32_t alignment_ = kDefaultAlignment;
  size_t data_offset_ = 0;
  Metadata metadata_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Builds a GGUF v3 file. Metadata keeps insertion order; tensors are written in the order added.
class Writer {
 public:
  Metadata& metadata() { return metadata_; }

  // Adds a tensor; `data` must hold exactly dtype_bytes(dtype, elements) bytes and is copied.
  void add_tensor(std::string name, DType dtype, Shape shape, std::vector<uint8_t> data);
  // Adds a tensor whose bytes stay owned by the caller until write() returns.
  void add_tensor_ref(std::string name, DType dtype, Shape shape, const uint8_t* data, size_t bytes);
  // Adds a tensor whose bytes are produced during write(): `fill` receives a buffer of dtype_bytes(dtype,
  // elements) bytes to fill. Lets conversion stream one tensor at a time instead of holding all of them.
  using Fill = std::function<void(uint8_t* dst)>;
  void add_tensor_generated(std::string name, DType dtype, Shape shape, Fill fill);
  size_t tensor_count() const { return tensors_.size(); }

  // Writes to `path` through a temporary file and a rename, so a failed write never leaves a partial file.
  void write(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    DType dtype;
    Shape shape;
    std::vector<uint8_t> owned;
    const uint8_t* data;
    size_t bytes;
    Fill fill;
  };
  PendingTensor& add_pending(std::string name, DType dtype, Shape shape);
  std::set<std::string, std::less<>> names_;
  Metadata metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace whale::gguf
