// Weights: tensor lookup in a ModelSource for the models (see weights.h).
#include "models/weights.h"

#include <fmt/format.h>

#include "core/error.h"
#include "formats/model_source.h"
#include "kernels/ref/quant.h"

namespace whale {

Weights::Weights(std::shared_ptr<const ModelSource> source) : source_(std::move(source)) {
  WHALE_ASSERT(source_ != nullptr);
}

const std::string& Weights::path() const { return source_->path(); }

const TensorView* Weights::find(std::string_view name) const { return source_->find_tensor(name); }

const TensorView& Weights::get(std::string_view name) const {
  const TensorView* t = find(name);
  if (t == nullptr) fail("{}: tensor {}: missing", path(), name);
  return *t;
}

const TensorView* Weights::scale_of(std::string_view name) const {
  // FP8 checkpoints pair "X.weight" with "X.weight_scale_inv" (DeepSeek-V3's layout); the source checks
  // that the scales exist and fit the weight (2-D, or 3-D for stacked experts and kv_b heads).
  return source_->scale_of(get(name));
}

Matrix Weights::matrix(std::string_view name) const {
  const TensorView& t = get(name);
  if (t.shape.size() != 2) fail("{}: tensor {}: expected 2 dimensions, got {}", path(), name, shape_string(t.shape));
  return matrix_view(t, scale_of(name));
}

Matrix Weights::expert(std::string_view name, int64_t e) const {
  const TensorView& t = get(name);
  if (t.shape.size() != 3) fail("{}: tensor {}: expected 3 dimensions, got {}", path(), name, shape_string(t.shape));
  return expert_matrix(t, e, scale_of(name));
}

std::vector<float> Weights::floats(std::string_view name) const {
  const TensorView& t = get(name);
  std::vector<float> out(static_cast<size_t>(t.elements()));
  ref::dequantize_row(t.dtype, t.data, out.data(), t.elements());
  return out;
}

std::string Weights::layer_name(int64_t layer, std::string_view suffix) { return fmt::format("blk.{}.{}", layer, suffix); }

}  // namespace whale
