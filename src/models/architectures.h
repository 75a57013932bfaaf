// The architecture implementations behind the registry in models/model.cpp. Each family lives in its own
// file and provides its tensor list and a loader; the registry is the only caller.
#pragma once

#include <memory>
#include <vector>

#include "models/model.h"

namespace whale {

// models/dense.cpp: llama, qwen2, qwen3 (GQA, SwiGLU, RMSNorm, tied or untied embeddings).
std::vector<TensorSpec> dense_tensor_specs(const ModelConfig& config);
std::unique_ptr<Model> load_dense_model(std::shared_ptr<const ModelSource> source, ModelConfig config,
                                        const LoadOptions& options);

// models/deepseek2.cpp: DeepSeek-V2/V3/R1 (MLA, DeepSeekMoE, MTP). Tensor specs include the MTP layers
// (the last nextn_predict_layers blocks, see ModelConfig::block_count) when there are any.
std::vector<TensorSpec> deepseek2_tensor_specs(const ModelConfig& config);
std::unique_ptr<Model> load_deepseek2_model(std::shared_ptr<const ModelSource> source, ModelConfig config,
                                            const LoadOptions& options);

}  // namespace whale
