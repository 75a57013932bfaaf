// Scratch: a float buffer for forward-pass intermediates, allocated once and left uninitialized, so that
// pages a short input never touches (a prefill chunk of 8 tokens in a buffer sized for 256) cost address
// space but not resident memory.
#pragma once

#include <cstddef>
#include <memory>

namespace whale {

class Scratch {
 public:
  Scratch() = default;
  explicit Scratch(size_t floats) { resize(floats); }
  // Reallocates when larger than the current size; contents are not kept.
  void resize(size_t floats) {
    if (floats <= size_) return;
    data_.reset(new float[floats]);
    size_ = floats;
  }
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  std::unique_ptr<float[]> data_;
  size_t size_ = 0;
};

}  // namespace whale
