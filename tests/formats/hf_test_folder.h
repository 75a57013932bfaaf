// Test helper: writes safetensors files and Hugging Face folders (config.json + weights) byte by byte, so
// tests control every header field, including broken ones.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "formats/gguf_test_bytes.h"

namespace whale::testing {

struct StTensor {
  std::string name;
  std::string dtype;  // "F32", "BF16", "F16", "F8_E4M3"
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

inline std::vector<uint8_t> f32_bytes(const std::vector<float>& values) {
  std::vector<uint8_t> out(values.size() * 4);
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// bf16 by truncation: exact for the values tests use (few significant bits).
inline std::vector<uint8_t> bf16_bytes(const std::vector<float>& values) {
  std::vector<uint8_t> out;
  for (float v : values) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    out.push_back(static_cast<uint8_t>(bits >> 16));
    out.push_back(static_cast<uint8_t>(bits >> 24));
  }
  return out;
}

// Values 0, 1, 2, ... (scaled): each element says where it came from, so rearrangements can be checked.
inline std::vector<float> iota_values(size_t n, float scale = 1.0f, float offset = 0.0f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = offset + scale * static_cast<float>(i);
  return v;
}

// Raw safetensors bytes: header length, JSON header (tensors in the order given, packed back to back).
inline std::vector<uint8_t> safetensors_bytes(const std::vector<StTensor>& tensors,
                                              const nlohmann::json& extra_header = nlohmann::json::object()) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  for (const auto& [k, v] : extra_header.items()) header[k] = v;
  uint64_t offset = 0;
  for (const StTensor& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  const std::string text = header.dump();
  GgufBytes b;
  b.u64(text.size()).raw(text.data(), text.size());
  for (const StTensor& t : tensors) b.raw(t.bytes.data(), t.bytes.size());
  return b.bytes;
}

// Collects the tensors of a tiny HF checkpoint; each gets values offset + 0, 1, 2, ... so positions can be
// traced (offset distinguishes tensors).
class TinyCheckpoint {
 public:
  void add(const std::string& name, std::vector<int64_t> shape, float offset = 0.0f) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    tensors_.push_back({name, "F32", shape, f32_bytes(iota_values(static_cast<size_t>(n), 1.0f, offset))});
  }
  void add_raw(StTensor t) { tensors_.push_back(std::move(t)); }
  void remove(const std::string& name) {
    std::erase_if(tensors_, [&](const StTensor& t) { return t.name == name; });
  }
  void write(const TempDir& dir, const nlohmann::json& config) const {
    dir.write("config.json", config.dump());
    dir.write("model.safetensors", safetensors_bytes(tensors_));
  }

 private:
  std::vector<StTensor> tensors_;
};

// Element i of an F32 tensor view.
inline float f32_at(const TensorView& t, int64_t i) {
  EXPECT_EQ(t.dtype, DType::F32) << t.name;
  float v;
  std::memcpy(&v, t.data + i * 4, 4);
  return v;
}

}  // namespace whale::testing
