// The model registry: architecture name -> tensor specs and loader, and tensor validation (see model.h).
#include "models/model.h"

#include <fmt/format.h>

#include <array>

#include "core/error.h"
#include "formats/model_source.h"
#include "models/architectures.h"

namespace whale {
namespace {

struct Architecture {
  std::string_view name;
  std::vector<TensorSpec> (*tensor_specs)(const ModelConfig&);
  std::unique_ptr<Model> (*load)(std::shared_ptr<const ModelSource>, ModelConfig, const LoadOptions&);
};

constexpr std::array<Architecture, 4> kArchitectures = {{
    {"llama", dense_tensor_specs, load_dense_model},
    {"qwen2", dense_tensor_specs, load_dense_model},
    {"qwen3", dense_tensor_specs, load_dense_model},
    {"deepseek2", deepseek2_tensor_specs, load_deepseek2_model},
}};

const Architecture& find_architecture(const std::string& arch, const std::string& where) {
  for (const Architecture& a : kArchitectures) {
    if (a.name == arch) return a;
  }
  fail("{}: architecture \"{}\" is not supported (supported: {})", where, arch,
       fmt::join(supported_architectures(), ", "));
}

}  // namespace

std::vector<std::string> supported_architectures() {
  std::vector<std::string> names;
  for (const Architecture& a : kArchitectures) names.emplace_back(a.name);
  return names;
}

std::vector<TensorSpec> tensor_specs(const ModelConfig& config) {
  return find_architecture(config.arch, "model config").tensor_specs(config);
}

void validate_tensors(const ModelSource& source, const std::vector<TensorSpec>& specs) {
  for (const TensorSpec& spec : specs) {
    const TensorView* t = source.find_tensor(spec.name);
    if (t == nullptr) {
      if (spec.required) {
        fail("{}: tensor {}: missing (expected shape {})", source.path(), spec.name, shape_string(spec.shape));
      }
      continue;
    }
    if (t->shape != spec.shape) {
      fail("{}: tensor {}: expected shape {}, got {}", source.path(), spec.name, shape_string(spec.shape),
           shape_string(t->shape));
    }
    const DTypeInfo& info = dtype_info(t->dtype);
    if (t->row_length() % static_cast<int64_t>(info.block_elements) != 0) {
      fail("{}: tensor {}: rows of {} values cannot hold whole {} blocks", source.path(), spec.name,
           t->row_length(), info.name);
    }
  }
}

std::unique_ptr<Model> load_model(std::shared_ptr<const ModelSource> source, const LoadOptions& options) {
  WHALE_ASSERT(source != nullptr && options.pool != nullptr);
  ModelConfig config = parse_model_config(source->metadata());
  const Architecture& arch = find_architecture(config.arch, source->path());
  validate_tensors(*source, arch.tensor_specs(config));
  return arch.load(std::move(source), std::move(config), options);
}

}  // namespace whale
