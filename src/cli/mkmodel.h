// Shared pieces of `whale mkmodel`: the model being written (config, tensor list, weight type) and the two
// writers, GGUF (mkmodel.cpp) and Hugging Face folder (mkmodel_hf.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "formats/quantize.h"
#include "models/config.h"
#include "models/model.h"

namespace whale::cli {

struct RandomModelPlan {
  ModelConfig config;
  std::vector<TensorSpec> tensors;  // what is written, in order (optional specs already chosen)
  DType type = DType::F32;          // storage of matrices and embeddings; norms, biases and vectors stay f32
  std::optional<gguf::QuantScheme> scheme;  // GGUF only: a quantization mix (then type is its base type)
  uint64_t seed = 0;
  bool tied = false;                // no output.weight: the head reuses token_embd
  std::string tokenizer_json;       // contents
  std::string tokenizer_config_json;
};

// Writes config.json, model.safetensors (streamed, one tensor at a time), tokenizer.json and
// tokenizer_config.json into `folder` (created if needed). Tensors get their Hugging Face names and layouts
// (llama q/k rows un-permuted, deepseek kv_b merged, experts unstacked). type F8_E4M3 stores matrices as
// float8_e4m3fn with 128x128 weight_scale_inv blocks, as DeepSeek-V3 does.
void write_hf_folder(const RandomModelPlan& plan, const std::string& folder);

// f32 -> float8_e4m3fn, round to nearest even, saturating at +-448.
uint8_t f32_to_f8_e4m3(float v);

}  // namespace whale::cli
