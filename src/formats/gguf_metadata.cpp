// GGUF metadata values and the ordered key/value store shared by GGUF files and Hugging Face folders
// (see gguf.h).
#include <limits>

#include "core/error.h"
#include "formats/gguf.h"

namespace whale::gguf {

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::Uint8: return "uint8";
    case ValueType::Int8: return "int8";
    case ValueType::Uint16: return "uint16";
    case ValueType::Int16: return "int16";
    case ValueType::Uint32: return "uint32";
    case ValueType::Int32: return "int32";
    case ValueType::Float32: return "float32";
    case ValueType::Bool: return "bool";
    case ValueType::String: return "string";
    case ValueType::Array: return "array";
    case ValueType::Uint64: return "uint64";
    case ValueType::Int64: return "int64";
    case ValueType::Float64: return "float64";
  }
  return "unknown";
}

ValueType Value::type() const {
  // Variant alternatives are listed in the order of GGUF ids 0..12 (see the declaration).
  return static_cast<ValueType>(v.index());
}

namespace {

std::string describe(const Value& value) {
  if (value.type() == ValueType::Array) {
    return fmt::format("array of {}", value_type_name(std::get<ArrayValue>(value.v).element_type));
  }
  return std::string(value_type_name(value.type()));
}

}  // namespace

int64_t Value::as_int(std::string_view what) const {
  switch (type()) {
    case ValueType::Uint8: return std::get<uint8_t>(v);
    case ValueType::Int8: return std::get<int8_t>(v);
    case ValueType::Uint16: return std::get<uint16_t>(v);
    case ValueType::Int16: return std::get<int16_t>(v);
    case ValueType::Uint32: return std::get<uint32_t>(v);
    case ValueType::Int32: return std::get<int32_t>(v);
    case ValueType::Int64: return std::get<int64_t>(v);
    case ValueType::Uint64: {
      uint64_t u = std::get<uint64_t>(v);
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail("{}: expected an integer below 2^63, got {}", what, u);
      }
      return static_cast<int64_t>(u);
    }
    default: break;
  }
  fail("{}: expected an integer, got {}", what, describe(*this));
}

double Value::as_float(std::string_view what) const {
  switch (type()) {
    case ValueType::Float32: return std::get<float>(v);
    case ValueType::Float64: return std::get<double>(v);
    case ValueType::Bool:
    case ValueType::String:
    case ValueType::Array:
      fail("{}: expected a number, got {}", what, describe(*this));
    case ValueType::Uint64: return static_cast<double>(std::get<uint64_t>(v));
    default: return static_cast<double>(as_int(what));
  }
}

bool Value::as_bool(std::string_view what) const {
  if (type() != ValueType::Bool) fail("{}: expected a bool, got {}", what, describe(*this));
  return std::get<bool>(v);
}

const std::string& Value::as_string(std::string_view what) const {
  if (type() != ValueType::String) fail("{}: expected a string, got {}", what, describe(*this));
  return std::get<std::string>(v);
}

const ArrayValue& Value::as_array(std::string_view what) const {
  if (type() != ValueType::Array) fail("{}: expected an array, got {}", what, describe(*this));
  return std::get<ArrayValue>(v);
}

void Metadata::set(std::string key, Value value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
}

void Metadata::set_string(std::string key, std::string value) { set(std::move(key), Value{std::move(value)}); }
void Metadata::set_uint32(std::string key, uint32_t value) { set(std::move(key), Value{value}); }
void Metadata::set_int32(std::string key, int32_t value) { set(std::move(key), Value{value}); }
void Metadata::set_float32(std::string key, float value) { set(std::move(key), Value{value}); }
void Metadata::set_bool(std::string key, bool value) { set(std::move(key), Value{value}); }

void Metadata::set_string_array(std::string key, const std::vector<std::string>& values) {
  ArrayValue array{ValueType::String, {}};
  array.items.reserve(values.size());
  for (const std::string& s : values) array.items.push_back(Value{s});
  set(std::move(key), Value{std::move(array)});
}

void Metadata::set_int32_array(std::string key, const std::vector<int32_t>& values) {
  ArrayValue array{ValueType::Int32, {}};
  array.items.reserve(values.size());
  for (int32_t x : values) array.items.push_back(Value{x});
  set(std::move(key), Value{std::move(array)});
}

void Metadata::set_float32_array(std::string key, const std::vector<float>& values) {
  ArrayValue array{ValueType::Float32, {}};
  array.items.reserve(values.size());
  for (float x : values) array.items.push_back(Value{x});
  set(std::move(key), Value{std::move(array)});
}

const Value* Metadata::find(std::string_view key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

std::string Metadata::what(std::string_view key) const {
  return source_.empty() ? fmt::format("key {}", key) : fmt::format("{}: key {}", source_, key);
}

const Value& Metadata::require(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) fail("{}: missing", what(key));
  return *value;
}

int64_t Metadata::get_int(std::string_view key) const { return require(key).as_int(what(key)); }

std::optional<int64_t> Metadata::find_int(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return std::nullopt;
  return value->as_int(what(key));
}

double Metadata::get_float(std::string_view key) const { return require(key).as_float(what(key)); }

std::optional<double> Metadata::find_float(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return std::nullopt;
  return value->as_float(what(key));
}

std::optional<bool> Metadata::find_bool(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return std::nullopt;
  return value->as_bool(what(key));
}

std::string Metadata::get_string(std::string_view key) const { return require(key).as_string(what(key)); }

std::optional<std::string> Metadata::find_string(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return std::nullopt;
  return value->as_string(what(key));
}

std::vector<std::string> Metadata::get_string_array(std::string_view key) const {
  const std::string where = what(key);
  const ArrayValue& array = require(key).as_array(where);
  std::vector<std::string> out;
  out.reserve(array.items.size());
  for (size_t i = 0; i < array.items.size(); ++i) {
    out.push_back(array.items[i].as_string(fmt::format("{}[{}]", where, i)));
  }
  return out;
}

std::vector<int64_t> Metadata::get_int_array(std::string_view key) const {
  const std::string where = what(key);
  const ArrayValue& array = require(key).as_array(where);
  std::vector<int64_t> out;
  out.reserve(array.items.size());
  for (size_t i = 0; i < array.items.size(); ++i) {
    out.push_back(array.items[i].as_int(fmt::format("{}[{}]", where, i)));
  }
  return out;
}

std::vector<double> Metadata::get_float_array(std::string_view key) const {
  const std::string where = what(key);
  const ArrayValue& array = require(key).as_array(where);
  std::vector<double> out;
  out.reserve(array.items.size());
  for (size_t i = 0; i < array.items.size(); ++i) {
    out.push_back(array.items[i].as_float(fmt::format("{}[{}]", where, i)));
  }
  return out;
}

}  // namespace whale::gguf
