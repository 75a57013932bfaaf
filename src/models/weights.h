// Weights: how a model finds its tensors in a ModelSource. The one place in models/ that talks to the
// source; shapes have already been checked against the architecture's tensor specs by load_model.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "kernels/matrix.h"

namespace whale {

class ModelSource;

class Weights {
 public:
  explicit Weights(std::shared_ptr<const ModelSource> source);

  const ModelSource& source() const { return *source_; }
  const std::string& path() const;

  // The tensor, or nullptr when the file does not have it.
  const TensorView* find(std::string_view name) const;
  // The tensor; throws whale::Error naming the file and tensor when missing.
  const TensorView& get(std::string_view name) const;
  // A 2-D weight as a Matrix, with its F8 block scales when the source has them.
  Matrix matrix(std::string_view name) const;
  // Expert `e` of a stacked 3-D weight.
  Matrix expert(std::string_view name, int64_t e) const;
  // A small tensor (norm gain, bias) converted to f32 and copied: these are read in every token's hot loop
  // and may be stored as f16/bf16.
  std::vector<float> floats(std::string_view name) const;

  static std::string layer_name(int64_t layer, std::string_view suffix);  // "blk.{layer}.{suffix}"

 private:
  const TensorView* scale_of(std::string_view name) const;
  std::shared_ptr<const ModelSource> source_;
};

}  // namespace whale
